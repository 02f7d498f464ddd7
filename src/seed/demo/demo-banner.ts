/**
 * What `npm start` prints about the demo's working day: the web application's address, a table of
 * the demo users to sign in as (user ID, PIN, role, organisation, what they will see), the demo
 * patients' NHS login IDs, and a referral's UBRN and letter password a patient can book with.
 */
import { ORGANIZATION } from '../../services/directory/index.js';
import type { ResourceStore } from '../../store/resource-store.js';
import { DEMO_PIN, NATIONAL, STAFF, type DemoStaff } from './demo-cast.js';
import type { DemoWorkday } from './index.js';

const ROLE_LABELS: Record<string, string> = {
  R8000: 'R8000 clinician',
  R8003: 'R8003 pharmacist',
  R8008: 'R8008 admin',
  R8015: 'R8015 support',
  R5080: 'R5080 privacy',
};

/** The demo clinician that `serve --demo` has always had, kept beside the day's users. */
const DEMO_CLINICIAN: DemoStaff = {
  id: 'demo-clinician',
  name: 'Dr Demo Clinician',
  role: 'R8000',
  org: 'A81001',
  sees: 'as demo-gp; also signs in as R8008 admin at A81001',
};

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map(
    (r) =>
      '  ' +
      r
        .map((cell, c) => cell.padEnd(widths[c]))
        .join('  ')
        .trimEnd(),
  );
}

/** 12 digits as e-RS prints them: 0000 0000 0000. */
const ubrnSpaced = (ubrn: string) => ubrn.replace(/(\d{4})(?=\d)/g, '$1 ');

export async function demoBanner(
  repo: ResourceStore,
  url: string,
  workday: DemoWorkday | undefined,
): Promise<string[]> {
  const staff = [DEMO_CLINICIAN, ...(Object.values(STAFF) as DemoStaff[])];
  const orgs = new Map<string, string>([[NATIONAL, 'NHS England']]);
  for (const s of await repo.readMany(ORGANIZATION, [...new Set(staff.map((u) => u.org))]))
    orgs.set(s.id, String((s.resource as { name?: string }).name ?? s.id));
  const lines = [
    `Web application: ${url}/app   (demo users below; PIN ${DEMO_PIN} for every demo account)`,
    ...table([
      ['user ID', 'PIN', 'role', 'organisation', 'sees'],
      ...staff.map((u) => [
        u.id,
        DEMO_PIN,
        ROLE_LABELS[u.role] ?? u.role,
        `${u.org} ${orgs.get(u.org) ?? ''}`.trim(),
        u.sees,
      ]),
    ]),
  ];
  if (!workday) return lines;
  lines.push(
    `Patients (NHS login, PIN ${DEMO_PIN}): ` +
      workday.logins.map((l) => `${l.id} (${l.nhs})`).join(', '),
  );
  const lettered = workday.referrals.find((r) => r.password);
  if (lettered) {
    const login = workday.logins.find((l) => l.nhs === lettered.nhs);
    lines.push(
      `e-Referral to book: UBRN ${ubrnSpaced(lettered.ubrn)}, password ${lettered.password}` +
        (login ? ` (${login.id}'s ${lettered.clinic} referral)` : ''),
    );
  }
  return lines;
}
