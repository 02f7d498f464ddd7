/**
 * The demo's working day for `npm start` (`serve --demo`): demo users with a day's work waiting for
 * each. Two halves, because the second needs the running application:
 * - seedDemoPatients (before the app is built): the demo practice's patients, by the same path as
 *   the seeded patients;
 * - seedDemoWorkday (after): accounts, then summary records, prescriptions, referrals, transfers,
 *   subscriptions and emergency access, all through the platform's own APIs in-process.
 * A `DemoWorkday` record written last says the day is there: a later start (or another node) finds
 * it and adds nothing. Same seed, same patients, prescriptions, records and referrals (UBRNs, the
 * letter's password and GP2GP task ids are drawn at random by their services, as in production).
 */
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config.js';
import type { SigningKey } from '../../security/embedded-idp.js';
import type { Repository } from '../../store/repository.js';
import { resourceType } from '../../store/resource-store.js';
import { DemoApi } from './demo-api.js';
import type { CohortPatient } from './demo-cast.js';
import {
  seedEmergencyAccess,
  seedRegistrations,
  seedSubscriptions,
  seedTransfer,
} from './demo-care.js';
import { seedPrescriptions, type DemoPrescription } from './demo-eps.js';
import { demoCohort, seedDemoCohort } from './demo-patients.js';
import { seedReferrals, type DemoReferral } from './demo-referrals.js';
import { seedSummaryRecords } from './demo-scr.js';
import {
  ensureDemoUsers,
  patientLogins,
  registerPrescriberKey,
  type PatientLogin,
} from './demo-users.js';
import { STAFF } from './demo-cast.js';

export { demoBanner } from './demo-banner.js';
export { DEMO_PIN, STAFF as DEMO_STAFF, COHORT_ROLES as DEMO_COHORT_ROLES } from './demo-cast.js';
export { demoCohort };

/** What the demo's working day made: kept in the store, so every later start can print it. */
export interface DemoWorkday {
  resourceType: 'DemoWorkday';
  id: string;
  seed: number;
  created: string;
  cohort: CohortPatient[];
  logins: PatientLogin[];
  summaries: string[];
  prescriptions: DemoPrescription[];
  referrals: DemoReferral[];
  transfer: string;
  emergencyAccess: string[];
}

export const DEMO_WORKDAY = resourceType<DemoWorkday>('DemoWorkday');
const workdayId = (seed: number) => `seed-${seed}`;

/** The demo practice's patients (before the app is built); how many were new. */
export async function seedDemoPatients(
  repo: Repository,
  seed: number,
  sqliteFile: string | undefined,
): Promise<number> {
  if (await readDemoWorkday(repo, seed)) return 0;
  return (await seedDemoCohort(repo, seed, sqliteFile)).created;
}

export async function readDemoWorkday(repo: Repository, seed = 1): Promise<DemoWorkday | null> {
  return (await repo.read(DEMO_WORKDAY, workdayId(seed)))?.resource ?? null;
}

/**
 * Makes the working day unless the store has it already; returns it, and whether it was made now.
 * The app must be built (its routes answer in-process); seedDemoPatients must have run.
 */
export async function seedDemoWorkday(opts: {
  app: FastifyInstance;
  repo: Repository;
  key: SigningKey;
  config: Pick<Config, 'audience'>;
  seed?: number;
}): Promise<{ workday: DemoWorkday; created: boolean; seconds: number }> {
  const started = Date.now();
  const seed = opts.seed ?? 1;
  const existing = await readDemoWorkday(opts.repo, seed);
  if (existing) return { workday: existing, created: false, seconds: 0 };
  const { repo } = opts;
  const { cohort } = demoCohort(seed);
  await ensureDemoUsers(repo, cohort);
  const key = await registerPrescriberKey(repo, STAFF.gp.id);
  const api = new DemoApi(opts.app, opts.key, opts.config.audience, seed);
  await seedSubscriptions(api);
  const summaries = await seedSummaryRecords(api, cohort);
  const prescriptions = await seedPrescriptions(api, cohort, key);
  await seedRegistrations(api, cohort);
  const referrals = await seedReferrals(api, cohort);
  const transfer = await seedTransfer(api, cohort);
  const emergencyAccess = await seedEmergencyAccess(api, cohort);
  const workday: DemoWorkday = {
    resourceType: 'DemoWorkday',
    id: workdayId(seed),
    seed,
    created: new Date().toISOString(),
    cohort,
    logins: patientLogins(cohort),
    summaries,
    prescriptions,
    referrals,
    transfer,
    emergencyAccess,
  };
  await repo.commit({
    resources: [
      { type: DEMO_WORKDAY, id: workday.id, expectedVersion: 0, resource: workday, index: [] },
    ],
    audit: [
      {
        time: workday.created,
        requestId: 'seed-demo-workday',
        userId: 'openspine-seed',
        role: 'system',
        org: 'OPENSPINE',
        patient: null,
        action: 'demo.seed',
        outcome: 'success',
        detail: { seed, patients: cohort.length, prescriptions: prescriptions.length },
      },
    ],
  });
  return { workday, created: true, seconds: (Date.now() - started) / 1000 };
}
