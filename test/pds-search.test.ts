/**
 * PDS trace (GET /Patient): the sandbox scenarios of the API notes adapted to our data, parameter
 * validation, history / exact / wildcard rules, restricted records, the reduced search view,
 * fuzzy matching over corrupted demographics of synthetic patients, and injection attempts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Patient } from 'fhir/r4.js';
import { seedPatients } from '../src/seed/seed-patients.js';
import { startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';
import {
  assertOutcome,
  assertSearchset,
  BIRTH_PLACE_URL,
  commitPatients,
  current,
  currentJane,
  entryIds,
  fixture,
  isRestrictedRecord,
  NHS,
  PDS,
  PHARMACY_URLS,
  restrictedJanet,
  search,
  SEED,
  seededPatients,
  SPARE_NHS,
  withNhsNumber,
} from './helpers/pds-fixtures.js';

type Q = [string, string][];

const JANE_DOB: [string, string] = ['birthdate', 'eq2010-10-22'];
const FUZZY: [string, string] = ['_fuzzy-match', 'true'];

/** Jane Smith's original record (name and address ended 2021-12-31) under another number, now called Jane Whitlock. */
const HISTORY_JANE = SPARE_NHS[0];
function historyJane(): Patient {
  const p = withNhsNumber(fixture<Patient>('Patient.json'), HISTORY_JANE);
  p.name!.push({
    id: '124',
    use: 'usual',
    period: { start: '2022-01-01' },
    given: ['Jane'],
    family: 'Whitlock',
  });
  return p;
}

/** Two records whose score order is the opposite of their id order: the lower id matches on history only. */
const ORDER_OLD = SPARE_NHS[2],
  ORDER_CURRENT = SPARE_NHS[3];
function orderPair(): Patient[] {
  const base = (id: string, names: Patient['name']): Patient => ({
    resourceType: 'Patient',
    id,
    identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: id }],
    meta: {
      security: [
        {
          system: 'https://www.hl7.org/fhir/valueset-security-labels.html',
          code: 'U',
          display: 'unrestricted',
        },
      ],
    },
    name: names,
    gender: 'male',
    birthDate: '1980-05-05',
  });
  return [
    base(ORDER_OLD, [
      {
        id: 'a1',
        use: 'usual',
        period: { start: '2005-01-01' },
        given: ['Tom'],
        family: 'Newbury',
      },
      {
        id: 'a2',
        use: 'old',
        period: { start: '1980-05-05', end: '2004-12-31' },
        given: ['Tom'],
        family: 'Ordertest',
      },
    ]),
    base(ORDER_CURRENT, [
      {
        id: 'b1',
        use: 'usual',
        period: { start: '1980-05-05' },
        given: ['Tim'],
        family: 'Ordertest',
      },
    ]),
  ];
}

/** A Smith for the Smith -> Smyth homophone (Jane Smith herself has a closer match in Jayne Smyth). */
const HAMISH = SPARE_NHS[4];
function hamishSmith(): Patient {
  return {
    resourceType: 'Patient',
    id: HAMISH,
    identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: HAMISH }],
    meta: {
      security: [
        {
          system: 'https://www.hl7.org/fhir/valueset-security-labels.html',
          code: 'U',
          display: 'unrestricted',
        },
      ],
    },
    name: [
      {
        id: 'h1',
        use: 'usual',
        period: { start: '1977-03-15' },
        given: ['Hamish'],
        family: 'Smith',
      },
    ],
    gender: 'male',
    birthDate: '1977-03-15',
    address: [
      {
        id: 'h2',
        use: 'home',
        period: { start: '2000-01-01' },
        line: ['3 Kirk Wynd'],
        postalCode: 'YO1 7HH',
      },
    ],
  };
}

// ---- corruptions of real demographics, for fuzzy search ----
/** One letter in the middle of the name replaced. */
function oneLetterChanged(name: string): string {
  const i = Math.floor(name.length / 2);
  const replacement = name[i].toLowerCase() === 'x' ? 'z' : 'x';
  return name.slice(0, i) + replacement + name.slice(i + 1);
}
/** A homophone: i -> y (Smith -> Smyth), else one vowel after the first letter swapped (sound unchanged). */
function homophone(name: string): string | undefined {
  const i = name.indexOf('i', 1);
  if (i > 0) return name.slice(0, i) + 'y' + name.slice(i + 1);
  for (let k = 1; k < name.length; k++) {
    const c = name[k];
    if ('aeou'.includes(c)) return name.slice(0, k) + (c === 'e' ? 'a' : 'e') + name.slice(k + 1);
  }
  return undefined;
}
/** Day and month swapped, when that is a different real date. */
function transposed(iso: string): string | undefined {
  const [y, m, d] = iso.split('-');
  if (Number(d) > 12 || d === m) return undefined;
  return `${y}-${d}-${m}`;
}

for (const kind of await storesUnderTest()) {
  describe(`PDS search (${kind})`, () => {
    let platform: TestPlatform;
    const generated = seededPatients();
    const seededRestricted = generated.map((g) => g.patient).filter(isRestrictedRecord);
    const fuzzySubjects = generated
      .map((g) => g.patient)
      .filter((p) => !isRestrictedRecord(p))
      .slice(0, 30);
    const withOldName = generated
      .map((g) => g.patient)
      .find((p) => !isRestrictedRecord(p) && p.name!.some((n) => n.use === 'old'))!;
    let patientCount = 0;

    before(async () => {
      platform = await startTestPlatform(kind);
      await seedPatients(platform.repo, SEED);
      await commitPatients(platform.repo, [
        currentJane(),
        current(fixture('Patient-Jayne-Smyth.json')),
        restrictedJanet(),
        fixture('Minimal_Patient.json'),
        historyJane(),
        ...orderPair(),
        hamishSmith(),
      ]);
      patientCount = await platform.repo.count('Patient');
    });
    after(async () => {
      await platform?.close();
    });

    const scores = (bundle: any): number[] => bundle.entry.map((e: any) => e.search.score);

    describe('sandbox scenarios', () => {
      it('family + gender + exact birthdate: one result, score 1', async () => {
        const bundle = assertSearchset(
          await search(platform, [['family', 'Smith'], ['gender', 'female'], JANE_DOB]),
        );
        assert.deepEqual(entryIds(bundle), [NHS.jane]);
        assert.equal(bundle.entry[0].search.score, 1);
        assert.match(bundle.entry[0].fullUrl, new RegExp(`/Patient/${NHS.jane}$`));
        assert.equal(bundle.entry[0].resource.resourceType, 'Patient');
      });

      it('parameters are case-insensitive in value', async () => {
        const bundle = assertSearchset(
          await search(platform, [['family', 'SMITH'], ['gender', 'FEMALE'], JANE_DOB]),
        );
        assert.deepEqual(entryIds(bundle), [NHS.jane]);
      });

      it('email and phone narrow the match; other contact details find nobody', async () => {
        const base: Q = [['family', 'Smith'], ['gender', 'female'], JANE_DOB];
        const hit = assertSearchset(
          await search(platform, [
            ...base,
            ['email', 'jane.smith@example.com'],
            ['phone', '01632960587'],
          ]),
        );
        assert.deepEqual(entryIds(hit), [NHS.jane]);
        const upper = assertSearchset(
          await search(platform, [...base, ['email', 'Jane.Smith@Example.com']]),
        );
        assert.deepEqual(entryIds(upper), [NHS.jane]);
        const miss = assertSearchset(
          await search(platform, [
            ...base,
            ['email', 'deb.trotter@example.com'],
            ['phone', '0121111111'],
          ]),
        );
        assert.deepEqual(entryIds(miss), []);
      });

      it("wildcard family 'Sm*' finds several", async () => {
        const bundle = assertSearchset(
          await search(platform, [['family', 'Sm*'], ['gender', 'female'], JANE_DOB]),
        );
        assert.deepEqual(entryIds(bundle).sort(), [NHS.jane, NHS.jayne, NHS.restricted]);
        assert.ok(
          scores(bundle).every((s) => s < 1),
          'wildcard matches are not exact',
        );
        const narrowed = assertSearchset(
          await search(platform, [
            ['family', 'Sm*'],
            ['gender', 'female'],
            JANE_DOB,
            ['email', 'jane.smith@example.com'],
            ['phone', '01632960587'],
          ]),
        );
        assert.deepEqual(entryIds(narrowed), [NHS.jane]);
        const inner = assertSearchset(await search(platform, [['family', 'Sm*th'], JANE_DOB]));
        assert.deepEqual(entryIds(inner).sort(), [NHS.jane, NHS.jayne]);
      });

      it("a wildcard needs two leading characters: '*mith', 'S*', '--*' are 400 INVALID_VALUE", async () => {
        // punctuation does not count: '--*' would be a bare wildcard over every name
        for (const family of ['*mith', 'S*', '*', '--*', "''*", ' -*']) {
          assertOutcome(
            await search(platform, [['family', family], JANE_DOB]),
            400,
            'INVALID_VALUE',
          );
        }
        assertOutcome(
          await search(platform, [['family', 'Smith'], ['given', 'J*'], JANE_DOB]),
          400,
          'INVALID_VALUE',
        );
        assertOutcome(
          await search(platform, [['family', 'Smith'], ['address-postalcode', 'L*'], JANE_DOB]),
          400,
          'INVALID_VALUE',
        );
      });

      it('_max-results=1 with several matches is 200 TOO_MANY_MATCHES; with one match it is that match', async () => {
        const res = await search(platform, [
          ['family', 'Sm*'],
          ['gender', 'female'],
          JANE_DOB,
          ['_max-results', '1'],
        ]);
        assertOutcome(res, 200, 'TOO_MANY_MATCHES');
        const one = assertSearchset(
          await search(platform, [
            ['family', 'Sm*'],
            ['gender', 'female'],
            JANE_DOB,
            ['email', 'jane.smith@example.com'],
            ['_max-results', '1'],
          ]),
        );
        assert.deepEqual(entryIds(one), [NHS.jane]);
        const three = assertSearchset(
          await search(platform, [
            ['family', 'Sm*'],
            ['gender', 'female'],
            JANE_DOB,
            ['_max-results', '3'],
          ]),
        );
        assert.equal(three.total, 3);
      });

      it('birthdate ge/le range', async () => {
        const inRange = assertSearchset(
          await search(platform, [
            ['family', 'Smith'],
            ['birthdate', 'ge2010-10-21'],
            ['birthdate', 'le2010-10-23'],
          ]),
        );
        assert.ok(entryIds(inRange).includes(NHS.jane), 'entryIds(inRange).includes(NHS.jane)');
        for (const e of inRange.entry)
          assert.ok(
            e.resource.birthDate >= '2010-10-21' && e.resource.birthDate <= '2010-10-23',
            e.resource.birthDate,
          );
        const before = assertSearchset(
          await search(platform, [
            ['family', 'Smith'],
            ['birthdate', 'ge2010-10-01'],
            ['birthdate', 'le2010-10-21'],
          ]),
        );
        assert.ok(!entryIds(before).includes(NHS.jane), '!entryIds(before).includes(NHS.jane)');
        const onDay = assertSearchset(
          await search(platform, [
            ['family', 'Smith'],
            ['birthdate', 'ge2010-10-22'],
            ['birthdate', 'le2010-10-22'],
          ]),
        );
        assert.ok(entryIds(onDay).includes(NHS.jane), 'entryIds(onDay).includes(NHS.jane)');
      });

      it('compound given names: every given name must match', async () => {
        const both = assertSearchset(
          await search(platform, [
            ['family', 'Smith'],
            ['given', 'Hamish'],
            ['birthdate', 'eq1977-03-15'],
          ]),
        );
        assert.deepEqual(entryIds(both), [HAMISH]);
        const wrong = assertSearchset(
          await search(platform, [
            ['family', 'Smith'],
            ['given', 'Hamish'],
            ['given', 'James'],
            ['birthdate', 'eq1977-03-15'],
          ]),
        );
        assert.deepEqual(entryIds(wrong), []);
      });
    });

    describe('parameter validation', () => {
      it('an unknown parameter is 400 ADDITIONAL_PROPERTIES', async () => {
        assertOutcome(
          await search(platform, [['family', 'Smith'], JANE_DOB, ['invalidParam', '123']]),
          400,
          'ADDITIONAL_PROPERTIES',
        );
      });

      it('no parameters is 400 UNSUPPORTED_SERVICE', async () => {
        assertOutcome(
          await platform.request({ url: `${PDS}/Patient` }),
          400,
          'UNSUPPORTED_SERVICE',
        );
      });

      it('gender=mal is 400 INVALID_VALUE with the published diagnostics', async () => {
        const body = assertOutcome(
          await search(platform, [['family', 'Smith'], ['gender', 'mal'], JANE_DOB]),
          400,
          'INVALID_VALUE',
        );
        assert.equal(
          body.issue[0].diagnostics,
          fixture('4xx/invalid_value.json').issue[0].diagnostics,
        );
      });

      it('a malformed birthdate is 400 INVALID_VALUE', async () => {
        for (const bad of [
          '2010/10/22',
          'eq20101022',
          'eq2010-13-01',
          'eq2010-02-30',
          'gt2010-10-22',
          'eq22-10-2010',
          'yesterday',
        ]) {
          assertOutcome(
            await search(platform, [
              ['family', 'Smith'],
              ['birthdate', bad],
            ]),
            400,
            'INVALID_VALUE',
          );
        }
        assertOutcome(
          await search(platform, [['family', 'Smith'], JANE_DOB, ['death-date', 'eq2010-1-1']]),
          400,
          'INVALID_VALUE',
        );
      });

      // PDS asks first for the birth date: karate-tests searchErrors.feature "Unsuccessful search
      // on email/phone only" is MISSING_VALUE
      it('email or phone on their own is 400 MISSING_VALUE (the birth date)', async () => {
        assertOutcome(
          await search(platform, [['email', 'jane.smith@example.com']]),
          400,
          'MISSING_VALUE',
        );
        assertOutcome(await search(platform, [['phone', '01632960587']]), 400, 'MISSING_VALUE');
        assertOutcome(
          await search(platform, [
            ['email', 'jane.smith@example.com'],
            ['phone', '01632960587'],
          ]),
          400,
          'MISSING_VALUE',
        );
      });

      it('a non-fuzzy search without a birthdate is 400 MISSING_VALUE', async () => {
        const body = assertOutcome(
          await search(platform, [
            ['family', 'Smith'],
            ['gender', 'female'],
          ]),
          400,
          'MISSING_VALUE',
        );
        assert.equal(
          body.issue[0].diagnostics,
          fixture('4xx/missing_value.json').issue[0].diagnostics,
        );
      });

      it('_max-results outside 1..50 is 400', async () => {
        for (const bad of ['0', '51', '-1', 'abc', '1.5']) {
          assertOutcome(
            await search(platform, [['family', 'Smith'], JANE_DOB, ['_max-results', bad]]),
            400,
            'INVALID_VALUE',
          );
        }
        assertSearchset(
          await search(platform, [['family', 'Smith'], JANE_DOB, ['_max-results', '50']]),
        );
      });

      it('bad booleans and repeated single-valued parameters are 400', async () => {
        assertOutcome(
          await search(platform, [['family', 'Smith'], JANE_DOB, ['_history', 'yes']]),
          400,
          'INVALID_VALUE',
        );
        const res = await search(platform, [['family', 'Smith'], ['family', 'Jones'], JANE_DOB]);
        assert.equal(res.statusCode, 400);
        assert.equal(res.json().resourceType, 'OperationOutcome');
      });
    });

    describe('_history, _exact-match and postcodes', () => {
      it('_history=true finds a patient by a previous family name; the plain search does not', async () => {
        const plain = assertSearchset(
          await search(platform, [['family', 'Smith'], ['gender', 'female'], JANE_DOB]),
        );
        assert.ok(
          !entryIds(plain).includes(HISTORY_JANE),
          '!entryIds(plain).includes(HISTORY_JANE)',
        );
        const withHistory = assertSearchset(
          await search(platform, [
            ['family', 'Smith'],
            ['gender', 'female'],
            JANE_DOB,
            ['_history', 'true'],
          ]),
        );
        assert.deepEqual(entryIds(withHistory), [NHS.jane, HISTORY_JANE]);
        const entry = withHistory.entry.find((e: any) => e.resource.id === HISTORY_JANE);
        assert.ok(entry.search.score < 1, 'entry.search.score < 1');
        // the response shows current data only
        assert.deepEqual(
          entry.resource.name.map((n: any) => n.family),
          ['Whitlock'],
        );
        assert.equal(entry.resource.address, undefined);
      });

      it('_history=true also matches a previous postcode', async () => {
        const plain = assertSearchset(
          await search(platform, [
            ['family', 'Whitlock'],
            JANE_DOB,
            ['address-postalcode', 'LS1 6AE'],
          ]),
        );
        assert.deepEqual(entryIds(plain), []);
        const withHistory = assertSearchset(
          await search(platform, [
            ['family', 'Whitlock'],
            JANE_DOB,
            ['address-postalcode', 'LS1 6AE'],
            ['_history', 'true'],
          ]),
        );
        assert.deepEqual(entryIds(withHistory), [HISTORY_JANE]);
      });

      it('a synthetic patient with a previous name is found by it only with _history', async () => {
        const old = withOldName.name!.find((n) => n.use === 'old')!;
        const usual = withOldName.name!.find((n) => n.use === 'usual')!;
        const q: Q = [
          ['family', old.family!],
          ['birthdate', `eq${withOldName.birthDate}`],
        ];
        if (old.family!.toLowerCase() !== usual.family!.toLowerCase()) {
          assert.ok(
            !entryIds(assertSearchset(await search(platform, q))).includes(withOldName.id!),
            'not found by a previous name without _history',
          );
        }
        const hist = assertSearchset(await search(platform, [...q, ['_history', 'true']]));
        const entry = hist.entry.find((e: any) => e.resource.id === withOldName.id);
        assert.ok(entry, 'found by previous name');
        assert.ok(
          entry.resource.name.every((n: any) => n.use !== 'old'),
          'no old names in a search entry',
        );
      });

      it('_exact-match=true drops wildcard-only and history-only matches', async () => {
        const wildcard = assertSearchset(
          await search(platform, [['family', 'Sm*'], JANE_DOB, ['_exact-match', 'true']]),
        );
        assert.deepEqual(entryIds(wildcard), []);
        const history = assertSearchset(
          await search(platform, [
            ['family', 'Smith'],
            JANE_DOB,
            ['_history', 'true'],
            ['_exact-match', 'true'],
          ]),
        );
        assert.deepEqual(entryIds(history), [NHS.jane]);
        assert.deepEqual(scores(history), [1]);
      });

      it('postcode spacing and case are ignored', async () => {
        const variants = ['LS16AE', 'LS1 6AE', 'ls1 6ae', ' LS1  6AE '];
        const results = [];
        for (const pc of variants)
          results.push(
            entryIds(
              assertSearchset(
                await search(platform, [['family', 'Smith'], JANE_DOB, ['address-postalcode', pc]]),
              ),
            ),
          );
        assert.deepEqual(results[0], [NHS.jane]);
        for (const r of results) assert.deepEqual(r, results[0]);
        const alias = assertSearchset(
          await search(platform, [['family', 'Smith'], JANE_DOB, ['address-postcode', 'LS16AE']]),
        );
        assert.deepEqual(entryIds(alias), [NHS.jane]);
        const wildcard = assertSearchset(
          await search(platform, [['family', 'Smith'], JANE_DOB, ['address-postalcode', 'LS1*']]),
        );
        assert.deepEqual(entryIds(wildcard), [NHS.jane]);
        const other = assertSearchset(
          await search(platform, [
            ['family', 'Smith'],
            JANE_DOB,
            ['address-postalcode', 'LS2 6AE'],
          ]),
        );
        assert.deepEqual(entryIds(other), []);
      });
    });

    describe('restricted records and the reduced search view', () => {
      it('a name search returns a restricted record without address, telecom, contact or GP', async () => {
        const bundle = assertSearchset(
          await search(platform, [
            ['family', 'Smythe'],
            ['given', 'Janet'],
            ['gender', 'female'],
            JANE_DOB,
          ]),
        );
        assert.deepEqual(entryIds(bundle), [NHS.restricted]);
        const r = bundle.entry[0].resource;
        assert.equal(r.meta.security[0].code, 'R');
        for (const hidden of ['address', 'telecom', 'contact', 'generalPractitioner'])
          assert.equal(r[hidden], undefined, hidden);
        assert.ok(
          !(r.extension ?? []).some((e: any) => PHARMACY_URLS.includes(e.url)),
          'no pharmacy extensions',
        );
        assert.equal(r.name[0].family, 'Smythe');
      });

      it('a restricted record never answers a postcode or GP search, though it shares them', async () => {
        for (const location of [
          ['address-postalcode', 'LS16AE'],
          ['address-postcode', 'LS1 6AE'],
          ['general-practitioner', 'Y12345'],
        ] as [string, string][]) {
          const named = assertSearchset(
            await search(platform, [['family', 'Smythe'], JANE_DOB, location]),
          );
          assert.deepEqual(entryIds(named), [], location[0]);
          const wide = assertSearchset(
            await search(platform, [['family', 'Sm*'], JANE_DOB, location]),
          );
          assert.deepEqual(entryIds(wide).sort(), [NHS.jane, NHS.jayne], location[0]);
        }
      });

      it('entries are the reduced Patient: no birth place, pharmacies or preferences', async () => {
        const stored = (await platform.repo.read('Patient', NHS.jane))!.resource as Patient;
        const storedUrls = stored.extension!.map((e) => e.url);
        assert.ok(
          storedUrls.includes(BIRTH_PLACE_URL) &&
            PHARMACY_URLS.every((u) => storedUrls.includes(u)),
          'the stored record has birth place and pharmacies',
        );
        const bundle = assertSearchset(await search(platform, [['family', 'Smith'], JANE_DOB]));
        const r = bundle.entry[0].resource;
        const urls = (r.extension ?? []).map((e: any) => e.url);
        for (const hidden of [BIRTH_PLACE_URL, ...PHARMACY_URLS])
          assert.ok(!urls.includes(hidden), hidden);
        assert.ok(
          !urls.some(
            (u: string) => u.endsWith('NHSCommunication') || u.endsWith('ContactPreference'),
          ),
          'no communication or contact preferences',
        );
        assert.ok(
          urls.some((u: string) => u.endsWith('DeathNotificationStatus')),
          'other extensions stay',
        );
        assert.equal(r.address.length, 1);
        assert.equal(r.address[0].use, 'home');
        assert.deepEqual(
          r.name.map((n: any) => n.family),
          ['Smith'],
        );
      });

      it('results are sorted best score first, not by NHS Number', async () => {
        const bundle = assertSearchset(
          await search(platform, [
            ['family', 'Ordertest'],
            ['birthdate', 'eq1980-05-05'],
            ['_history', 'true'],
          ]),
        );
        assert.deepEqual(entryIds(bundle), [ORDER_CURRENT, ORDER_OLD]);
        assert.ok(ORDER_OLD < ORDER_CURRENT, 'ORDER_OLD < ORDER_CURRENT');
        const s = scores(bundle);
        assert.ok(s[0] > s[1], `scores ${s}`);
        // and in general, every bundle is in non-increasing score order
        for (const q of [
          [['family', 'Sm*'], JANE_DOB, ['_history', 'true']],
          [['family', 'Smith'], ['given', 'Jane'], JANE_DOB, FUZZY],
        ] as Q[]) {
          const sc = scores(assertSearchset(await search(platform, q)));
          assert.ok(sc.length >= 2, `${sc}`);
          for (let i = 1; i < sc.length; i++) assert.ok(sc[i - 1] >= sc[i], `${sc}`);
        }
      });
    });

    describe('fuzzy search', () => {
      type Case = { patient: Patient; query: Q };
      const usual = (p: Patient) => p.name!.find((n) => n.use === 'usual')!;
      const homeOf = (p: Patient) => p.address!.find((a) => !a.period?.end)!;

      /** Runs each case; the true patient must come first with a score in the expected band. */
      async function expectFirst(cases: Case[], exact: boolean): Promise<void> {
        const failures: string[] = [];
        for (const { patient, query } of cases) {
          const res = await search(platform, [...query, FUZZY]);
          const body = res.json();
          const first = body.entry?.[0];
          const ok =
            res.statusCode === 200 &&
            first?.resource.id === patient.id &&
            (exact ? first.search.score === 1 : first.search.score < 1 && first.search.score > 0);
          if (!ok)
            failures.push(
              `${patient.id} ${JSON.stringify(query)} -> ${res.statusCode} ${JSON.stringify(body.entry?.slice(0, 2).map((e: any) => [e.resource.id, e.search.score]) ?? body)}`,
            );
        }
        assert.deepEqual(failures, []);
      }
      const full = (p: Patient, family: string, given: string, dob: string): Q => [
        ['given', given],
        ['family', family],
        ['birthdate', `eq${dob}`],
        ['gender', p.gender!],
        ['address-postalcode', homeOf(p).postalCode!],
      ];

      it('an exact fuzzy query scores 1 (given+family+birthdate, postcode and gender omitted)', async () => {
        await expectFirst(
          fuzzySubjects.map((p) => ({
            patient: p,
            query: [
              ['given', usual(p).given![0]],
              ['family', usual(p).family!],
              ['birthdate', `eq${p.birthDate}`],
            ] as Q,
          })),
          true,
        );
      });

      it('an exact fuzzy query scores 1 (family+birthdate+gender+postcode)', async () => {
        await expectFirst(
          fuzzySubjects.map((p) => ({
            patient: p,
            query: [
              ['family', usual(p).family!],
              ['birthdate', `eq${p.birthDate}`],
              ['gender', p.gender!],
              ['address-postalcode', homeOf(p).postalCode!],
            ] as Q,
          })),
          true,
        );
      });

      it('one letter changed in the family name', async () => {
        await expectFirst(
          fuzzySubjects.map((p) => ({
            patient: p,
            query: full(p, oneLetterChanged(usual(p).family!), usual(p).given![0], p.birthDate!),
          })),
          false,
        );
      });

      it('a homophone of the family name (Smith -> Smyth)', async () => {
        const cases = fuzzySubjects.flatMap((p) => {
          const h = homophone(usual(p).family!);
          return h ? [{ patient: p, query: full(p, h, usual(p).given![0], p.birthDate!) }] : [];
        });
        assert.ok(cases.length >= 20, `${cases.length} cases`);
        await expectFirst(cases, false);
        await expectFirst(
          [
            {
              patient: hamishSmith(),
              query: [
                ['given', 'Hamish'],
                ['family', 'Smyth'],
                ['birthdate', 'eq1977-03-15'],
              ],
            },
          ],
          false,
        );
      });

      it('given and family names swapped', async () => {
        await expectFirst(
          fuzzySubjects.map((p) => ({
            patient: p,
            query: full(p, usual(p).given![0], usual(p).family!, p.birthDate!),
          })),
          false,
        );
      });

      it('day and month of the birth date transposed', async () => {
        const cases = fuzzySubjects.flatMap((p) => {
          const t = transposed(p.birthDate!);
          return t ? [{ patient: p, query: full(p, usual(p).family!, usual(p).given![0], t) }] : [];
        });
        assert.ok(cases.length >= 5, `${cases.length} cases`);
        await expectFirst(cases, false);
      });

      it('the sandbox fuzzy query finds Jane Smith first with score 1', async () => {
        const bundle = assertSearchset(
          await search(platform, [
            ['family', 'Smith'],
            ['given', 'Jane'],
            ['gender', 'female'],
            JANE_DOB,
            FUZZY,
          ]),
        );
        assert.equal(bundle.entry[0].resource.id, NHS.jane);
        assert.equal(bundle.entry[0].search.score, 1);
      });

      it('restricted patients appear in fuzzy results by name, without location data, and never by postcode or GP', async () => {
        // karate appRestricted/searchForPatientUsingMOABcascadingTrace.feature "Search for a sensitive patient";
        // patient-search.yaml "Restricted patients"
        const restricted: Patient[] = [restrictedJanet(), ...seededRestricted];
        assert.ok(restricted.length >= 2, 'restricted.length >= 2');
        for (const p of restricted) {
          const n = usual(p);
          const q: Q = [
            ['family', n.family!],
            ['given', n.given![0]],
            ['birthdate', `eq${p.birthDate}`],
          ];
          const fuzzy = assertSearchset(await search(platform, [...q, FUZZY]));
          const found = fuzzy.entry.find((e: any) => e.resource.id === p.id);
          assert.ok(found, `${p.id} in fuzzy results`);
          for (const hidden of ['address', 'telecom', 'generalPractitioner', 'contact'])
            assert.equal(found.resource[hidden], undefined, `${p.id} ${hidden}`);
          const home = p.address?.find((a) => !a.period?.end)?.postalCode;
          if (home) {
            const byPostcode = assertSearchset(
              await search(platform, [...q, ['address-postalcode', home], FUZZY]),
            );
            assert.ok(
              !entryIds(byPostcode).includes(p.id!),
              `${p.id} in fuzzy results by postcode`,
            );
          }
          const gp = p.generalPractitioner?.[0]?.identifier?.value;
          if (gp) {
            const byGp = assertSearchset(
              await search(platform, [...q, ['general-practitioner', gp], FUZZY]),
            );
            assert.ok(!entryIds(byGp).includes(p.id!), `${p.id} in fuzzy results by GP`);
          }
        }
      });

      it('a wildcard in a fuzzy search is 400 INVALID_SEARCH_DATA', async () => {
        assertOutcome(
          await search(platform, [['family', 'Sm*'], ['given', 'Jane'], JANE_DOB, FUZZY]),
          400,
          'INVALID_SEARCH_DATA',
        );
        assertOutcome(
          await search(platform, [['family', 'Smith'], ['given', 'Ja*'], JANE_DOB, FUZZY]),
          400,
          'INVALID_SEARCH_DATA',
        );
      });

      it('a fuzzy search without a valid combination is 400 INVALID_SEARCH_DATA', async () => {
        const invalid: Q[] = [
          [['family', 'Smith'], JANE_DOB],
          [['given', 'Jane'], JANE_DOB, ['gender', 'female']],
          [['family', 'Smith'], JANE_DOB, ['gender', 'female']],
        ];
        for (const q of invalid)
          assertOutcome(await search(platform, [...q, FUZZY]), 400, 'INVALID_SEARCH_DATA');
        // without a birth date PDS names the birth date first (karate searchErrors.feature "Too few
        // search params - but system only flags birthdate");
        // a birth date range and _history are accepted by a fuzzy search (searchParams.feature
        // "Algorithm search with basic ...
        // and phone number" searches fuzzily with birthdate=ge2000-05-03;
        // personal-demographics.yaml: _history "has no effect for a fuzzy search")
        assertOutcome(
          await search(platform, [['family', 'Smith'], ['given', 'Jane'], FUZZY]),
          400,
          'MISSING_VALUE',
        );
      });
    });

    describe('injection attempts', () => {
      const NASTY = [
        "x' OR '1'='1",
        '"; DROP TABLE resources; --',
        '{"$gt":""}',
        "Sm' OR 1=1 --*",
        '%',
        'Sm%',
        "'; DELETE FROM search_index; --",
        '\\',
        '$where',
      ];
      it('never a 500: a 400 or an empty bundle, and the data is still there', async () => {
        const base: Record<string, string> = {
          family: 'Smith',
          given: 'Jane',
          'address-postalcode': 'LS16AE',
          email: 'jane.smith@example.com',
          'general-practitioner': 'Y12345',
        };
        for (const param of Object.keys(base)) {
          for (const nasty of NASTY) {
            const q: Q = [
              ...Object.entries({ ...base, [param]: nasty }).filter(
                ([k]) => k === param || k === 'family' || k === 'given',
              ),
              JANE_DOB,
            ];
            const res = await search(platform, q);
            const label = `${param}=${nasty}: ${res.statusCode} ${res.body.slice(0, 200)}`;
            assert.ok(res.statusCode === 400 || res.statusCode === 200, label);
            const body = res.json();
            if (res.statusCode === 200)
              assert.deepEqual(
                { type: body.resourceType, total: body.total },
                { type: 'Bundle', total: 0 },
                label,
              );
            else assert.equal(body.resourceType, 'OperationOutcome', label);
          }
        }
        assert.equal(await platform.repo.count('Patient'), patientCount);
        assert.deepEqual(
          entryIds(
            assertSearchset(
              await search(platform, [['family', 'Smith'], ['gender', 'female'], JANE_DOB]),
            ),
          ),
          [NHS.jane],
        );
      });
    });
  });
}
