/**
 * The synthetic patient generator: deterministic per (seed, index), valid and unique NHS Numbers,
 * fixture-shaped resources, and roughly the proportions the seeded data set is meant to have.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Patient } from 'fhir/r4.js';
import { isValidNhsNumber, nhsNumberFromStem } from '../src/fhir/nhs-number.js';
import {
  createPatientGenerator,
  type GeneratedPatient,
  PATIENTS_PER_BLOCK,
} from '../src/seed/patient-generator.js';
import { MAX_PATIENTS_PER_SEED } from '../src/seed/generator-nhs-numbers.js';
import { PDS_PATIENT_URL, SECURITY_SYSTEM } from '../src/seed/generator-parts.js';
import { GP_PRACTICE_CODES } from '../src/seed/generator-pools.js';
import { NHS_NUMBER_SYSTEM, ODS_SYSTEM } from '../src/fhir/identifiers.js';

// Copied from the PDS sandbox fixture Patient.json, so the suite does not depend on files outside the repo.
const PDS_EXT = 'https://fhir.nhs.uk/R4/StructureDefinition/Extension-UKCore-';
const PDS_CODES = 'https://fhir.nhs.uk/R4/CodeSystem/UKCore-';
const FIXTURE = {
  identifierSystem: 'https://fhir.nhs.uk/Id/nhs-number',
  securitySystem: 'https://www.hl7.org/fhir/valueset-security-labels.html',
  verification: {
    url: PDS_EXT + 'NHSNumberVerificationStatus',
    valueCodeableConcept: {
      coding: [
        {
          system: PDS_CODES + 'NHSNumberVerificationStatus',
          version: '1.0.0',
          code: '01',
          display: 'Number present and verified',
        },
      ],
    },
  },
  deathNotification: {
    url: PDS_EXT + 'DeathNotificationStatus',
    status: {
      url: 'deathNotificationStatus',
      valueCodeableConcept: {
        coding: [
          {
            system: PDS_CODES + 'DeathNotificationStatus',
            version: '1.0.0',
            code: '2',
            display: 'Formal - death notice received from Registrar of Deaths',
          },
        ],
      },
    },
  },
};
const POSTCODE = /^[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}$/;
const HEX8 = /^[0-9A-F]{8}$/;
const SAMPLE = 20_000;

const generator = createPatientGenerator(20260101);
const sample: GeneratedPatient[] = Array.from({ length: SAMPLE }, (_, i) => generator.generate(i));
const patients: Patient[] = sample.map((g) => g.patient);
const share = (test: (p: Patient) => boolean): number => patients.filter(test).length / SAMPLE;
const extensionOf = (p: Patient, suffix: string) =>
  p.extension?.find((e) => e.url.endsWith(suffix));
const homeOf = (p: Patient): string => {
  const home = p.address!.find((a) => a.use === 'home' && !a.period?.end)!;
  return `${home.postalCode}|${home.line!.join(',')}`;
};
/** Households are runs of consecutive indexes at one home (chance repeats are negligible). */
const households: Patient[][] = [];
for (const p of patients) {
  const last = households.at(-1);
  if (last && homeOf(last[0]) === homeOf(p)) last.push(p);
  else households.push([p]);
}
const DAY_MS = 86_400_000;
const yearsBetween = (older: string, younger: string) =>
  (Date.parse(younger) - Date.parse(older)) / DAY_MS / 365.25;
const linkOf = (p: Patient, type: string) => p.link?.find((l) => l.type === type);

describe('patient generator', () => {
  it('is deterministic per seed and index, whatever the call order', () => {
    const a = createPatientGenerator(7);
    const b = createPatientGenerator(7);
    const late = a.generate(5); // a fresh generator asked for index 5 first
    for (let i = 0; i < 5; i++) b.generate(i);
    assert.deepEqual(b.generate(5), late);
    assert.deepEqual(a.generate(5), late);
    assert.deepEqual(a.generate(123_456), createPatientGenerator(7).generate(123_456));
    assert.notDeepEqual(a.generate(4), a.generate(5));
    assert.notEqual(createPatientGenerator(8).generate(5).patient.id, late.patient.id);
  });

  it('issues valid, unique NHS Numbers from the synthetic 999 range', () => {
    const seen = new Set<string>();
    for (const p of patients) {
      assert.ok(isValidNhsNumber(p.id), `${p.id} is not a valid NHS Number`);
      assert.ok(p.id!.startsWith('999'), p.id);
      assert.equal(nhsNumberFromStem(p.id!.slice(0, 9)), p.id);
      seen.add(p.id!);
    }
    assert.equal(seen.size, SAMPLE);
  });

  it('serves every valid number once and then refuses clearly', () => {
    const g = createPatientGenerator(3);
    assert.ok(
      isValidNhsNumber(g.generate(MAX_PATIENTS_PER_SEED - 1).patient.id),
      'expected true at patient-generator.test.ts:78',
    );
    assert.throws(() => g.generate(MAX_PATIENTS_PER_SEED), /out of range.*909091 valid numbers/);
    assert.throws(() => g.generate(-1), /out of range/);
    assert.throws(() => g.generate(1.5), /out of range/);
  });

  it('mirrors the PDS fixture shapes', () => {
    for (const p of patients.slice(0, 500)) {
      assert.equal(p.resourceType, 'Patient');
      assert.equal(p.meta?.versionId, undefined, 'the store sets versionId');
      assert.equal(p.identifier?.[0].system, FIXTURE.identifierSystem);
      assert.equal(NHS_NUMBER_SYSTEM, FIXTURE.identifierSystem);
      assert.equal(p.identifier?.[0].value, p.id);
      assert.deepEqual(p.identifier?.[0].extension, [FIXTURE.verification]);
      assert.equal(p.meta?.security?.[0].system, FIXTURE.securitySystem);
      assert.equal(SECURITY_SYSTEM, FIXTURE.securitySystem);
      assert.deepEqual(
        p.meta?.security?.[0].display,
        p.meta?.security?.[0].code === 'R' ? 'restricted' : 'unrestricted',
      );
      assert.match(p.meta!.security![0].code!, /^[UR]$/);
      assert.match(p.birthDate!, /^\d{4}-\d{2}-\d{2}$/);
      assert.ok(p.birthDate! < '2026-01-01' && p.birthDate! >= '1925-12-01', p.birthDate);
      assert.ok(['male', 'female', 'other', 'unknown'].includes(p.gender!));
      for (const item of [
        ...p.name!,
        ...p.address!,
        ...p.telecom!,
        ...(p.generalPractitioner ?? []),
      ])
        assert.match(item.id!, HEX8);
      const usual = p.name!.find((n) => n.use === 'usual')!;
      assert.ok(
        usual.given!.length >= 1 && usual.given!.length <= 2 && usual.family,
        'expected true at patient-generator.test.ts:101',
      );
      const home = p.address!.find((a) => a.use === 'home' && !a.period?.end)!;
      assert.ok(home.line!.length >= 2, JSON.stringify(home));
      assert.ok(
        p.telecom!.some((t) => t.system === 'phone'),
        'expected true at patient-generator.test.ts:104',
      );
      for (const gp of p.generalPractitioner ?? []) {
        assert.equal(gp.type, 'Organization');
        assert.equal(gp.identifier?.system, ODS_SYSTEM);
        assert.ok(
          GP_PRACTICE_CODES.includes(gp.identifier!.value!),
          'expected true at patient-generator.test.ts:108',
        );
      }
    }
  });

  it('writes UK-format postcodes, phone numbers and ODS codes', () => {
    for (const p of patients) {
      for (const a of p.address!) assert.match(a.postalCode!, POSTCODE);
      for (const t of p.telecom!) {
        if (t.system === 'phone')
          assert.match(t.value!, t.use === 'mobile' ? /^07700900\d{3}$/ : /^0\d{10}$/);
        else assert.match(t.value!, /^[a-z-]+\.[a-z-]+\d*@example\.(com|co\.uk|org|net)$/);
      }
      for (const gp of p.generalPractitioner ?? [])
        assert.match(gp.identifier!.value!, /^[A-Z]\d{5}$/);
      const pharmacy = extensionOf(p, 'NominatedPharmacy');
      if (pharmacy) assert.match(pharmacy.valueReference!.identifier!.value!, /^F[A-Z]\d{3}$/);
    }
    assert.equal(new Set(GP_PRACTICE_CODES).size, 500);
  });

  it('has roughly the intended proportions', () => {
    const restricted = share((p) => p.meta!.security![0].code === 'R');
    const deceased = share((p) => p.deceasedDateTime !== undefined);
    const withGp = share((p) => (p.generalPractitioner?.length ?? 0) > 0);
    const oldName = share((p) => p.name!.some((n) => n.use === 'old' && !!n.period?.end));
    const oldAddress = share((p) => p.address!.some((a) => !!a.period?.end));
    const email = share((p) => p.telecom!.some((t) => t.system === 'email'));
    const pharmacy = share((p) => !!extensionOf(p, 'NominatedPharmacy'));
    const related = sample.filter((g) => g.relatedPersons.length > 0).length / SAMPLE;
    const punctuated = share((p) => /['-]/.test(p.name![0].family!));
    assert.ok(restricted >= 0.002 && restricted <= 0.01, `restricted ${restricted}`);
    assert.ok(deceased >= 0.02 && deceased <= 0.04, `deceased ${deceased}`);
    assert.ok(withGp > 0.9, `GP ${withGp}`);
    assert.ok(oldName >= 0.03 && oldName <= 0.08, `previous name ${oldName}`);
    assert.ok(oldAddress >= 0.07 && oldAddress <= 0.13, `previous address ${oldAddress}`);
    assert.ok(email >= 0.5 && email <= 0.7, `email ${email}`);
    assert.ok(pharmacy >= 0.3 && pharmacy <= 0.5, `pharmacy ${pharmacy}`);
    assert.ok(related >= 0.25 && related <= 0.35, `related ${related}`);
    assert.ok(
      punctuated > 0.01 && punctuated < 0.15,
      `apostrophe/hyphen family names ${punctuated}`,
    );
    for (const gender of ['male', 'female', 'other', 'unknown'])
      assert.ok(share((p) => p.gender === gender) > 0, gender);
  });

  it('dates deaths after birth and before 2026, with the formal death notification', () => {
    for (const p of patients.filter((x) => x.deceasedDateTime)) {
      assert.match(p.deceasedDateTime!, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:00\+00:00$/);
      assert.ok(p.deceasedDateTime!.slice(0, 10) > p.birthDate!, `${p.id} died before birth`);
      assert.ok(
        p.deceasedDateTime! < '2026-01-01',
        'expected true at patient-generator.test.ts:153',
      );
      const status = extensionOf(p, 'DeathNotificationStatus');
      assert.equal(status?.url, FIXTURE.deathNotification.url);
      assert.deepEqual(status?.extension?.[0], FIXTURE.deathNotification.status);
      assert.equal(status?.extension?.[1].url, 'systemEffectiveDate');
    }
  });

  it('closes previous names and addresses before the current ones start', () => {
    for (const p of patients) {
      const current = p.name!.find((n) => n.use === 'usual')!;
      for (const old of p.name!.filter((n) => n.use === 'old'))
        assert.ok(
          old.period!.end! < current.period!.start!,
          'expected true at patient-generator.test.ts:164',
        );
      const home = p.address!.find((a) => !a.period?.end)!;
      for (const prev of p.address!.filter((a) => a.period?.end)) {
        assert.ok(
          prev.period!.start! <= prev.period!.end! && prev.period!.end! < home.period!.start!,
          JSON.stringify(p.address),
        );
      }
    }
  });

  it('relates people in the RelatedPerson fixture shape', () => {
    const ids = new Set<string>();
    let count = 0;
    for (const { patient, relatedPersons } of sample) {
      for (const rp of relatedPersons) {
        count++;
        ids.add(rp.id!);
        assert.equal(rp.resourceType, 'RelatedPerson');
        assert.match(rp.id!, HEX8);
        assert.equal(rp.patient.reference, PDS_PATIENT_URL + patient.id);
        assert.equal(rp.patient.type, 'Patient');
        assert.equal(rp.active, true);
        const code = rp.relationship![0].coding![0];
        assert.equal(code.system, 'http://terminology.hl7.org/CodeSystem/v3-RoleCode');
        assert.ok(
          ['MTH', 'FTH', 'SPS', 'CHILD', 'SIB', 'FRND'].includes(code.code!) && code.display,
        );
        assert.ok(
          rp.name![0].given!.length && rp.name![0].family,
          'expected true at patient-generator.test.ts:187',
        );
        assert.ok(rp.telecom!.length > 0, 'expected true at patient-generator.test.ts:188');
        for (const a of rp.address ?? []) assert.match(a.postalCode!, POSTCODE);
      }
    }
    assert.equal(ids.size, count, 'RelatedPerson ids are unique within a seed');
  });

  it('groups consecutive records into households sharing a home, a name and a practice', () => {
    const sharing = households.filter((h) => h.length > 1).reduce((n, h) => n + h.length, 0);
    // ONS 2021: 30% of households (about 13% of people) live alone; blocks of 8 cut a few short
    assert.ok(sharing / SAMPLE >= 0.7 && sharing / SAMPLE <= 0.92, `sharing a home ${sharing}`);
    const mean = SAMPLE / households.length;
    assert.ok(mean >= 2 && mean <= 2.7, `mean household size ${mean}`);
    assert.ok(Math.max(...households.map((h) => h.length)) <= 8);
    let members = 0;
    let sameName = 0;
    let samePractice = 0;
    for (const [head, ...rest] of households)
      for (const p of rest) {
        members++;
        if (p.name![0].family === head.name![0].family) sameName++;
        const gp = (x: Patient) => x.generalPractitioner?.[0]?.identifier?.value;
        if (gp(p) === gp(head)) samePractice++;
      }
    assert.ok(sameName / members >= 0.6 && sameName / members <= 0.95, `same name ${sameName}`);
    assert.ok(samePractice / members >= 0.75, `same practice ${samePractice / members}`);
  });

  it('makes household ages coherent: children 18-50 years younger than the eldest', () => {
    let withChildren = 0;
    for (const household of households) {
      const births = household.map((p) => p.birthDate!).sort();
      const children = births.filter((b) => yearsBetween(b, '2026-01-01') < 16);
      if (children.length === 0) continue;
      withChildren++;
      for (const child of children) {
        const gap = yearsBetween(births[0], child);
        assert.ok(
          gap >= 17.9 && gap <= 50,
          `${household[0].id}: child ${child} eldest ${births[0]}`,
        );
      }
    }
    assert.ok(withChildren / households.length > 0.1, `households with children ${withChildren}`);
  });

  it('restricts a person, never their whole household', () => {
    for (const household of households) {
      const restricted = household.filter(
        (p) => p.meta!.security![0].code === 'R' && !linkOf(p, 'replaced-by'),
      );
      assert.ok(restricted.length <= 1, `${household[0].id} has ${restricted.length} restricted`);
    }
  });

  it('holds a few merged duplicates, each pointing at its survivor and back', () => {
    const byId = new Map(patients.map((p, i) => [p.id!, i]));
    const superseded = patients.filter((p) => linkOf(p, 'replaced-by'));
    const share = superseded.length / SAMPLE;
    assert.ok(share >= 0.0002 && share <= 0.0025, `superseded ${share}`);
    for (const dup of superseded) {
      const link = linkOf(dup, 'replaced-by')!;
      const survivorId = link.other.identifier!.value!;
      assert.deepEqual(link.other, {
        reference: `Patient/${survivorId}`,
        identifier: { system: NHS_NUMBER_SYSTEM, value: survivorId },
      });
      assert.equal(byId.get(survivorId), byId.get(dup.id!)! - 1, 'the member just before');
      const survivor = patients[byId.get(survivorId)!];
      assert.equal(linkOf(survivor, 'replaced-by'), undefined, 'a survivor is not superseded');
      assert.equal(linkOf(survivor, 'replaces')?.other.identifier?.value, dup.id);
      assert.equal(survivor.birthDate, dup.birthDate);
      assert.equal(survivor.name![0].family, dup.name![0].family);
      assert.equal(homeOf(survivor), homeOf(dup));
      assert.notDeepEqual(
        { ...survivor, id: dup.id, identifier: dup.identifier, link: [] },
        {
          ...dup,
          link: [],
        },
      );
    }
    const survivors = patients.filter((p) => linkOf(p, 'replaces'));
    assert.equal(survivors.length, superseded.length);
    for (const survivor of survivors) {
      const dup = patients[byId.get(linkOf(survivor, 'replaces')!.other.identifier!.value!)!];
      assert.equal(linkOf(dup, 'replaced-by')?.other.reference, `Patient/${survivor.id}`);
    }
  });

  it('derives households and merges from the index alone in the national block too', () => {
    const g = createPatientGenerator(11, 'national');
    const last = PATIENTS_PER_BLOCK.national - 1;
    assert.deepEqual(g.generate(last), createPatientGenerator(11, 'national').generate(last));
    const run = Array.from({ length: 64 }, (_, k) => g.generate(40_000_000 + k).patient);
    const late = createPatientGenerator(11, 'national').generate(40_000_000 + 37).patient;
    assert.deepEqual(run[37], late);
    assert.ok(
      run.some((p, k) => k > 0 && homeOf(p) === homeOf(run[k - 1])),
      'households',
    );
  });
});
