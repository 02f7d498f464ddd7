/**
 * A deterministic demo directory: one GP practice for every ODS code the patient generator
 * registers patients with (GP_PRACTICE_CODES), one pharmacy for every nominated-pharmacy code
 * (PHARMACY_CODES), and the acute trusts of the towns they stand in. Names and streets come from
 * faker's en_GB street list and curated English towns; phone numbers from the Ofcom drama range.
 * The demo clinician's practice (A81001, where its role profiles are) is there too. Services,
 * endpoints and role profiles follow from the organisations (seed-services.ts).
 * Re-running with the same seed writes nothing (existing resources are left as they are).
 */
import { Faker, base, en, en_GB } from '@faker-js/faker';
import type { ResourceWrite, ResourceStore } from '../../store/resource-store.js';
import { GP_PRACTICE_CODES, PHARMACY_CODES } from '../../seed/generator-pools.js';
import {
  buildOrganization,
  indexOrganization,
  ORGANIZATION,
  type OrganisationFacts,
} from './organization-model.js';
import { DEMO_CLINICIAN, demoServiceWrites } from './seed-services.js';

// town|county|postcode area|trust code|trust name pattern
const TOWNS = `Leeds|West Yorkshire|LS|RR8|Leeds Teaching Hospitals NHS Trust
Bradford|West Yorkshire|BD|RAE|Bradford Teaching Hospitals NHS Foundation Trust
Manchester|Greater Manchester|M|R0A|Manchester University NHS Foundation Trust
Birmingham|West Midlands|B|RRK|University Hospitals Birmingham NHS Foundation Trust
Liverpool|Merseyside|L|REM|Liverpool University Hospitals NHS Foundation Trust
Sheffield|South Yorkshire|S|RHQ|Sheffield Teaching Hospitals NHS Foundation Trust
Newcastle upon Tyne|Tyne and Wear|NE|RTD|The Newcastle upon Tyne Hospitals NHS Foundation Trust
Nottingham|Nottinghamshire|NG|RX1|Nottingham University Hospitals NHS Trust
Leicester|Leicestershire|LE|RWE|University Hospitals of Leicester NHS Trust
Bristol|Avon|BS|RA7|University Hospitals Bristol and Weston NHS Foundation Trust
Reading|Berkshire|RG|RHW|Royal Berkshire NHS Foundation Trust
Oxford|Oxfordshire|OX|RTH|Oxford University Hospitals NHS Foundation Trust
Cambridge|Cambridgeshire|CB|RGT|Cambridge University Hospitals NHS Foundation Trust
Norwich|Norfolk|NR|RM1|Norfolk and Norwich University Hospitals NHS Foundation Trust
York|North Yorkshire|YO|RCB|York and Scarborough Teaching Hospitals NHS Foundation Trust
Hull|East Yorkshire|HU|RWA|Hull University Teaching Hospitals NHS Trust
Exeter|Devon|EX|RH8|Royal Devon University Healthcare NHS Foundation Trust
Plymouth|Devon|PL|RK9|University Hospitals Plymouth NHS Trust
Preston|Lancashire|PR|RXN|Lancashire Teaching Hospitals NHS Foundation Trust
Stoke-on-Trent|Staffordshire|ST|RJE|University Hospitals of North Midlands NHS Trust
Brighton|East Sussex|BN|RYR|University Hospitals Sussex NHS Foundation Trust
Southampton|Hampshire|SO|RHM|University Hospital Southampton NHS Foundation Trust
Lincoln|Lincolnshire|LN|RWD|United Lincolnshire Hospitals NHS Trust
London|Greater London|SE|RJ1|Guy's and St Thomas' NHS Foundation Trust`
  .split('\n')
  .map((row) => {
    const [town, county, area, trust, trustName] = row.split('|');
    return { town, county, area, trust, trustName };
  });

const PRACTICE_SUFFIXES = [
  'Surgery',
  'Medical Centre',
  'Health Centre',
  'Medical Practice',
  'Group Practice',
  'Family Practice',
];
const PHARMACY_SUFFIXES = ['Pharmacy', 'Chemist', 'Pharmacy', 'Healthcare Pharmacy'];

export interface DirectorySeedResult {
  created: number;
  skipped: number;
}

export function demoDirectory(seed: number): OrganisationFacts[] {
  const f = new Faker({ locale: [en_GB, en, base] });
  f.seed(seed);
  const streets = f.definitions.location.street_name as string[];
  const address = (i: number) => {
    const where = TOWNS[i % TOWNS.length];
    const postcode = `${where.area}${f.number.int({ min: 1, max: 15 })} ${f.number.int(9)}${f.string.fromCharacters('ABDEFGHJLNPQRSTUWXYZ', 2)}`;
    const street = f.helpers.arrayElement(streets);
    return {
      where,
      street,
      lines: [`${f.number.int({ min: 1, max: 240 })} ${street}`],
      town: where.town,
      county: where.county,
      postcode,
    };
  };
  const phone = () => `01632 960${String(f.number.int(999)).padStart(3, '0')}`;
  const opened = () =>
    f.date.between({ from: '1948-07-05', to: '2020-12-31' }).toISOString().slice(0, 10);
  const orgs: OrganisationFacts[] = TOWNS.map((t) => ({
    code: t.trust,
    name: t.trustName,
    role: 'RO197',
    lines: [`${f.helpers.arrayElement(streets)}`],
    town: t.town,
    county: t.county,
    postcode: `${t.area}${f.number.int({ min: 1, max: 9 })} ${f.number.int(9)}${f.string.fromCharacters('ABDEFGHJLNPQRSTUWXYZ', 2)}`,
    openDate: opened(),
    active: true,
    phone: phone(),
  }));
  GP_PRACTICE_CODES.forEach((code, i) => {
    const a = address(i);
    const base = f.helpers.arrayElement([
      a.street.replace(/ (Road|Street|Lane|Avenue|Close|Drive|Way|Crescent|Grove|Place)$/, ''),
      `${f.person.lastName()} House`,
      a.town,
    ]);
    orgs.push({
      code,
      name: `${base} ${f.helpers.arrayElement(PRACTICE_SUFFIXES)}`,
      role: 'RO76',
      lines: a.lines,
      town: a.town,
      county: a.county,
      postcode: a.postcode,
      openDate: opened(),
      active: true,
      phone: phone(),
    });
  });
  PHARMACY_CODES.forEach((code, i) => {
    const a = address(i * 7);
    orgs.push({
      code,
      name: `${f.person.lastName()} ${f.helpers.arrayElement(PHARMACY_SUFFIXES)}`,
      role: 'RO182',
      lines: a.lines,
      town: a.town,
      county: a.county,
      postcode: a.postcode,
      openDate: opened(),
      active: true,
      phone: phone(),
    });
  });
  // the demo clinician's practice (not in the patients' pool: it is where the clinician works)
  const a = address(GP_PRACTICE_CODES.length);
  orgs.push({
    code: DEMO_CLINICIAN.org,
    name: 'The Densham Surgery',
    role: 'RO76',
    lines: a.lines,
    town: a.town,
    county: a.county,
    postcode: a.postcode,
    openDate: '1974-04-01',
    active: true,
    phone: phone(),
  });
  return orgs;
}

/** Loads the demo directory; resources already present are left untouched. */
export async function seedDirectory(
  repo: ResourceStore,
  seed: number,
): Promise<DirectorySeedResult> {
  const facts = demoDirectory(seed);
  const orgs = facts.map(buildOrganization).map((o): ResourceWrite => ({
    type: ORGANIZATION,
    id: o.id!,
    expectedVersion: 0,
    resource: o,
    index: indexOrganization(o),
  }));
  // organisations first: every later write points at one
  const writes = [...orgs, ...demoServiceWrites(facts)];
  let created = 0,
    skipped = 0;
  for (let from = 0; from < writes.length; from += 1000) {
    const slice = writes.slice(from, from + 1000);
    const present = new Set<string>();
    for (const type of new Set(slice.map((w) => w.type))) {
      for (const s of await repo.readMany(
        type,
        slice.filter((w) => w.type === type).map((w) => w.id),
      ))
        present.add(`${type}/${s.id}`);
    }
    const missing = slice.filter((w) => !present.has(`${w.type}/${w.id}`));
    skipped += slice.length - missing.length;
    created += missing.length;
    if (missing.length) {
      await repo.commit({
        resources: missing,
        audit: [
          {
            time: new Date().toISOString(),
            requestId: 'seed-directory',
            userId: 'openspine-seed',
            role: 'system',
            org: 'OPENSPINE',
            patient: null,
            action: 'directory.seed',
            outcome: 'success',
            detail: { seed, from },
          },
        ],
      });
    }
  }
  return { created, skipped };
}
