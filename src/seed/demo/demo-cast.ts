/**
 * Who is who in the demo's working day (`npm start`): the organisations (all in Brighton, where the
 * demo directory puts the demo clinician's practice), the staff users and what each will see, and
 * the cohort of demo patients registered at the practice, each with the part it plays. Data only;
 * the other modules of src/seed/demo/ make it true through the platform's own rules.
 */
import { GP_PRACTICE_CODES, PHARMACY_CODES } from '../generator-pools.js';

/** One passcode for every demo account (it stands in for the smartcard PIN or NHS login password). */
export const DEMO_PIN = '1234';

/** The demo GP practice: the demo clinician's (The Densham Surgery, Brighton). */
export const PRACTICE = 'A81001';
/** The acute trust in the practice's town: it receives the practice's e-Referrals. */
export const HOSPITAL = 'RYR';
/** A Brighton pharmacy in the demo directory, nominated by the demo patients. */
export const PHARMACY = PHARMACY_CODES[20];
/** A Brighton practice the transferring patients leave (the old practice of GP2GP). */
export const OLD_PRACTICE = GP_PRACTICE_CODES[20];
/** NHS England's ODS code: where the operations engineer's role profile is. */
export const NATIONAL = 'X26';

export interface DemoStaff {
  id: string;
  name: string;
  role: string;
  org: string;
  /** What signing in as this user shows (the banner's last column). */
  sees: string;
}

export const STAFF = {
  gp: {
    id: 'demo-gp',
    name: 'Dr Priya Shah',
    role: 'R8000',
    org: PRACTICE,
    sees: 'registered patients, summary records, prescriptions, referrals, GP2GP, mailbox',
  },
  receptionist: {
    id: 'demo-receptionist',
    name: 'Sam Taylor',
    role: 'R8008',
    org: PRACTICE,
    sees: 'demographics, registrations, referral worklists, GP2GP, mailbox',
  },
  hospital: {
    id: 'demo-consultant',
    name: 'Dr Oliver Grant',
    role: 'R8000',
    org: HOSPITAL,
    sees: 'referrals for review and triage; emergency access to records',
  },
  pharmacist: {
    id: 'demo-pharmacist',
    name: 'Aisha Khan',
    role: 'R8003',
    org: PHARMACY,
    sees: 'nominated prescriptions in every state: release, dispense, claim',
  },
  privacy: {
    id: 'demo-privacy',
    name: 'Helen Ward',
    role: 'R5080',
    org: HOSPITAL,
    sees: 'break-glass alerts with reasons; the audit trail',
  },
  ops: {
    id: 'demo-ops',
    name: 'Chris Lee',
    role: 'R8015',
    org: NATIONAL,
    sees: 'directory management, messaging and dead letters, bulk export',
  },
} as const satisfies Record<string, DemoStaff>;

/**
 * The parts the demo patients play, in cohort order. Each is a generated patient living in a
 * Brighton postcode, registered at the practice (the transfer-in patient at the old practice until
 * the receptionist registers them), nominating the demo pharmacy.
 */
export const COHORT_ROLES = [
  'login-awaiting-booking', // NHS login; a referral to book with the letter's UBRN and password
  'login-booked', // NHS login; a booked referral
  'login-triage', // NHS login; a referral awaiting triage; repeat dispensing
  'restricted', // restricted record (R)
  'dissent', // dissented from a Summary Care Record
  'opted-out', // national data opt-out
  'restricted-emergency', // restricted; the hospital's emergency access
  'transfer-in', // registers with the practice today: GP2GP from the old practice
  'transfer-sent', // record sent by the old practice, waiting for the practice's acknowledgement
  'emergency', // the hospital's emergency access
  'triage-2', // a second referral awaiting triage
  'emergency-2', // the hospital's emergency access
] as const;
export type CohortRole = (typeof COHORT_ROLES)[number];

/** The cohort members with an NHS login account (user id from their name; see demo-patients.ts). */
export const LOGIN_ROLES: readonly CohortRole[] = [
  'login-awaiting-booking',
  'login-booked',
  'login-triage',
];
export const RESTRICTED_ROLES: readonly CohortRole[] = ['restricted', 'restricted-emergency'];

/** Demo patient as written: NHS Number, names for the banner, the part played. */
export interface CohortPatient {
  nhs: string;
  role: CohortRole;
  given: string;
  family: string;
}
