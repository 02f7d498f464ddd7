/**
 * Test data and page helpers of the staff PDS journeys (test/web-demographics.test.ts): the
 * patients and directory the journeys use, the search form, the results table, a Tab-only way
 * to reach an element, and the values of a Patient the tests compare.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Patient } from 'fhir/r4.js';
import type { Page } from 'playwright-core';
import { importOdsExtract } from '../../src/services/directory/ods-import.js';
import {
  commitPatients,
  current,
  currentJane,
  fixture,
  living,
  restrictedJanet,
  SPARE_NHS,
  withNhsNumber,
} from './pds-fixtures.js';
import { addStaff, type WebPlatform } from './web-browser.js';

export const GP = {
  id: 'dr-pds',
  name: 'Dr Pat Demographic',
  pin: '1357',
  profiles: [{ role: 'R8000', org: 'A81001' }],
};
export const PROFILE = { role: 'R8000', org: 'A81001' };
const DIRECTORY = join(import.meta.dirname, '..', 'fixtures', 'directory');

/** Living, current Jane Smith under another number, name and date of birth. */
function person(nhs: string, family: string, birthDate: string, given = 'Jane'): Patient {
  const p = living(withNhsNumber(currentJane(), nhs));
  p.name![0].family = family;
  p.name![0].given = [given];
  p.birthDate = birthDate;
  return p;
}

export const SUBJECT = {
  update: SPARE_NHS[0],
  conflict: SPARE_NHS[1],
  keyboard: SPARE_NHS[2],
  narrow: SPARE_NHS[3],
  noScript: SPARE_NHS[4],
} as const;
/** Eleven patients sharing a family name and date of birth: more than the ten a search shows. */
const MANY = SPARE_NHS.slice(10, 21);
const TWINS = ['Ann', 'Bea', 'Cat', 'Dot', 'Eve', 'Fay', 'Gil', 'Hal', 'Ida', 'Jo', 'Kit'];

export async function loadData(web: WebPlatform): Promise<void> {
  await commitPatients(web.platform.repo, [
    currentJane(),
    current(fixture('Patient-Jayne-Smyth.json')),
    restrictedJanet(),
    person(SUBJECT.update, 'Updatewell', '1981-02-03'),
    person(SUBJECT.conflict, 'Clashington', '1982-03-04'),
    person(SUBJECT.keyboard, 'Keyes', '1983-04-05', 'Kim'),
    person(SUBJECT.narrow, 'Narrowby', '1984-05-06'),
    person(SUBJECT.noScript, 'Scriptless', '1985-06-07', 'Sam'),
    ...MANY.map((nhs, i) => person(nhs, 'Manyfold', '1990-01-01', TWINS[i])),
  ]);
  for (const f of ['epraccur-v1.csv', 'edispensary-quoted.csv'])
    await importOdsExtract(web.platform.repo, readFileSync(join(DIRECTORY, f)));
  await addStaff(web.platform, GP);
}

/** Fills and posts the search by details. */
export async function searchByDetails(
  page: Page,
  d: {
    family?: string;
    given?: string;
    dob?: string;
    gender?: string;
    postcode?: string;
    fuzzy?: boolean;
  },
): Promise<void> {
  const form = page.getByTestId('search-details');
  if (d.family !== undefined) await form.getByLabel('Family name').fill(d.family);
  if (d.given !== undefined) await form.getByLabel('Given name (optional)').fill(d.given);
  if (d.dob) {
    const [y, m, day] = d.dob.split('-');
    await form.getByLabel('Day').fill(day);
    await form.getByLabel('Month').fill(m);
    await form.getByLabel('Year').fill(y);
  }
  if (d.gender) await form.locator(`input[name=gender][value=${d.gender}]`).check();
  if (d.postcode !== undefined) await form.getByLabel('Postcode (optional)').fill(d.postcode);
  if (d.fuzzy) await form.getByLabel('Fuzzy match').check();
  await form.getByRole('button', { name: 'Search' }).click();
  await page.waitForLoadState();
}

/** The results table's rows as [name, NHS Number, date of birth, gender, postcode]. */
export async function resultRows(page: Page): Promise<string[][]> {
  const rows = page.locator('[data-testid=search-results] tbody tr');
  const out: string[][] = [];
  for (const row of await rows.all()) {
    const cells = await row.locator('td').all();
    out.push(
      await Promise.all(
        cells.map(async (c) =>
          c.evaluate((el) => {
            const copy = el.cloneNode(true) as HTMLElement;
            copy.querySelector('.nhsuk-table__heading')?.remove();
            return (copy.textContent ?? '').replace(/\s+/g, ' ').trim();
          }),
        ),
      ),
    );
  }
  return out;
}

/** Presses Tab until the focused element matches (and, when given, has the text): keyboard only. */
export async function tabTo(page: Page, selector: string, text?: string): Promise<void> {
  for (let i = 0; i < 80; i++) {
    await page.keyboard.press('Tab');
    const reached = await page.evaluate(
      ([sel, want]) => {
        const el = document.activeElement;
        return Boolean(
          el?.matches(sel) &&
          (!want || (el.textContent ?? '').replace(/\s+/g, ' ').trim() === want),
        );
      },
      [selector, text ?? ''] as const,
    );
    if (reached) return;
  }
  assert.fail(`Tab never reached ${selector}${text ? ` "${text}"` : ''}`);
}

const telecomValue = (p: any, system: string): string | undefined =>
  p.telecom?.find((t: any) => t.system === system && !t.period?.end)?.value;
export const phoneOf = (p: any) => telecomValue(p, 'phone');
export const emailOf = (p: any) => telecomValue(p, 'email');
export const pharmacyOf = (p: any): string | undefined =>
  p.extension?.find((e: any) => e.url.endsWith('NominatedPharmacy'))?.valueReference?.identifier
    ?.value;
