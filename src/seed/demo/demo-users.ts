/**
 * The demo's accounts: a staff user per part (UserDirectory.add, one role profile each), an NHS
 * login account for each cohort patient with a login (UserDirectory.addPatient), and the demo GP's
 * prescription-signing key (as `openspine prescriber key add` registers one). An account already
 * there is left as it is, so a changed PIN or a revoked user stays as the operator left them.
 */
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { auditRecord } from '../../audit/audit-record.js';
import { UserDirectory } from '../../security/accounts/users.js';
import { addPrescriberKey } from '../../services/eps/index.js';
import type { Repository } from '../../store/repository.js';
import { DEMO_PIN, LOGIN_ROLES, STAFF, type CohortPatient, type DemoStaff } from './demo-cast.js';

export interface PatientLogin {
  id: string;
  nhs: string;
  name: string;
  role: CohortPatient['role'];
}

/** The NHS login user id of a cohort patient: their names, lower case ("jamie.cooper"). */
export function loginId(p: CohortPatient): string {
  return `${p.given}.${p.family}`.toLowerCase().replace(/[^a-z0-9._-]/g, '');
}

export function patientLogins(cohort: CohortPatient[]): PatientLogin[] {
  return cohort
    .filter((p) => LOGIN_ROLES.includes(p.role))
    .map((p) => ({ id: loginId(p), nhs: p.nhs, name: `${p.given} ${p.family}`, role: p.role }));
}

/** Creates the staff users and patient accounts that are not there yet; returns how many were new. */
export async function ensureDemoUsers(repo: Repository, cohort: CohortPatient[]): Promise<number> {
  const users = new UserDirectory(repo);
  let created = 0;
  for (const u of Object.values(STAFF) as DemoStaff[]) {
    const existing = await users.get(u.id);
    if (existing?.roleProfiles.some((p) => p.role === u.role && p.org === u.org)) continue;
    await users.add({
      id: u.id,
      name: existing?.name ?? u.name,
      ...(existing?.pinHash ? {} : { pin: DEMO_PIN }),
      profiles: [{ role: u.role, org: u.org }],
    });
    created++;
  }
  for (const login of patientLogins(cohort)) {
    if (await users.get(login.id)) continue;
    await users.addPatient({ id: login.id, name: login.name, pin: DEMO_PIN, nhsNumber: login.nhs });
    created++;
  }
  return created;
}

/** A signing key pair registered to the prescriber (the private half stays in this process). */
export async function registerPrescriberKey(
  repo: Repository,
  userId: string,
): Promise<{ kid: string; privateKey: CryptoKey }> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const record = auditRecord(
    { requestId: randomUUID() },
    'eps.prescriber-key.add',
    null,
    'success',
    { user: userId, by: 'openspine-demo' },
    { type: 'security' },
  );
  record.userId = 'openspine-seed';
  const { key } = await addPrescriberKey(repo, userId, await exportJWK(publicKey), [record]);
  return { kid: key.id, privateKey };
}
