/**
 * National RBAC as data: the activities the platform knows, and which activities each role may
 * perform. Routes declare the activity they need; a role not listed, or an activity not in its list,
 * is denied. Documented in docs/security.md. `nationalCode` is the national RBAC activity code where
 * we know it; the others are OpenSpine's own until mapped.
 */
export interface ActivityDefinition {
  name: string;
  nationalCode: string | null;
  /** Clinical data: besides the role, the caller needs a legitimate relationship with the patient. */
  clinical: boolean;
  /** May be granted to an application (no user present) as a scope. */
  applicationGrantable: boolean;
}

const activity = (
  name: string,
  opts: Partial<Omit<ActivityDefinition, 'name'>> = {},
): ActivityDefinition => ({
  name,
  nationalCode: null,
  clinical: false,
  applicationGrantable: true,
  ...opts,
});

export const ACTIVITIES = {
  'pds.read': activity('View patient demographics'),
  'pds.search': activity('Trace a patient by demographics'),
  // PDS lets an application with no user present only read (its API gateway refuses POST and PATCH in
  // either application-restricted access mode), so these need a user present
  'pds.update': activity('Update patient demographics (including death)', {
    applicationGrantable: false,
  }),
  'pds.create': activity('Register a birth (allocate an NHS Number)', {
    applicationGrantable: false,
  }),
  'pds.merge': activity('Merge records (supersede an NHS Number)', { applicationGrantable: false }),
  'pds.coverage.read': activity(
    "Read the patient's own EHIC details (Coverage; patient access only, as PDS publishes)",
    { applicationGrantable: false },
  ),
  'pds.coverage.update': activity(
    "Add or replace the patient's own EHIC details (Coverage; patient access only, as PDS publishes)",
    { applicationGrantable: false },
  ),
  'pds.birth-details': activity(
    'Notify a birth from a maternity system (Patient/$process-birth-details: a new record and NHS Number)',
    { applicationGrantable: false },
  ),
  'scr.view': activity('View a Summary Care Record', { clinical: true }),
  'scr.upload': activity('Upload or update a Summary Care Record', { clinical: true }),
  'scr.consent': activity(
    "Record a patient's SCR consent choice (core, additional information, dissent)",
    { clinical: false },
  ),
  'optout.manage': activity('Set or clear the national data opt-out for a patient'),
  'eps.prescribe': activity('Prescribe and cancel prescriptions', { clinical: true }),
  'eps.dispense': activity('Perform pharmacy activities (release, dispense, claim)', {
    clinical: true,
    nationalCode: 'B0570',
  }),
  'eps.verify-signature': activity(
    "Verify prescriptions' signatures (EPS $verify-signature; answers valid or not, no record content)",
  ),
  'eps.track': activity(
    "Track a prescription's status history (prescribers, dispensers, the patient)",
    { clinical: true },
  ),
  'care.episode': activity('Open and close care episodes for the organisation'),
  'relationship.claim': activity('Self-claim a legitimate relationship with a patient', {
    applicationGrantable: false,
  }),
  'emergency.access': activity('Emergency (break-glass) access to a patient record', {
    applicationGrantable: false,
  }),
  'audit.read': activity('View the audit trail'),
  'directory.read': activity('Read the directory of organisations, services and endpoints'),
  'directory.manage': activity(
    'Register and change organisations, services, roles and endpoints in the directory',
  ),
  'notifications.subscribe': activity(
    'Subscribe an organisation to life-event notifications and read its mailbox',
  ),
  'gp2gp.transfer': activity(
    'Request, send and acknowledge GP2GP record transfers for the practice (the service checks the practice is a party)',
  ),
  'bulk.export': activity('Export patient data in bulk (FHIR $export, NDJSON)'),
  'bulk.export.migration': activity(
    "Include restricted patients' location data in a bulk export named for a migration (purpose 'migration', audited as such)",
  ),
  'bulk.import': activity('Import patient data in bulk (FHIR $import, NDJSON)'),
  'messaging.admin': activity('Inspect and replay dead-lettered messages', {
    applicationGrantable: false,
  }),
  // a Prometheus server may scrape as an application (OAuth2 client credentials) or with the scrape token
  'operations.metrics': activity(
    "Read the platform's operational metrics (GET /metrics: request rates, queues, store; no patient data)",
  ),
  // e-Referral Service (src/services/referrals/): user-restricted access only, as eRS publishes; the
  // NHSD-eRS-Business-Function header must also allow the activity (ERS_BUSINESS_FUNCTIONS)
  'ers.referral.create': activity('Create an e-Referral (shortlist services for a patient)', {
    applicationGrantable: false,
  }),
  'ers.referral.read': activity(
    "Read an e-Referral by UBRN (the service checks the caller's organisation may see it)",
    { applicationGrantable: false },
  ),
  'ers.referral.cancel': activity('Cancel an e-Referral', { applicationGrantable: false }),
  'ers.service.search': activity(
    "Search e-RS services for a patient's referral needs ($ers.searchHealthcareServicesForPatient)",
    { applicationGrantable: false },
  ),
  'ers.slot.read': activity("Search a shortlisted service's free appointment slots", {
    applicationGrantable: false,
  }),
  'ers.appointment.book': activity(
    "Book, change or cancel a referral's appointment, or defer booking to the provider",
    { applicationGrantable: false },
  ),
  'ers.appointment.read': activity("Read a referral's appointment", {
    applicationGrantable: false,
  }),
  'ers.slot.publish': activity("Publish and withdraw a provider service's appointment slots", {
    applicationGrantable: false,
  }),
  'ers.worklist.read': activity(
    "Read the organisation's e-RS worklists (referrals for review, triage, advice and guidance)",
    { applicationGrantable: false },
  ),
  'ers.referral.review': activity(
    'Review a referral as its provider: accept, reject, record a triage outcome',
    { applicationGrantable: false },
  ),
  'ers.referral.letter': activity(
    "Maintain a referral's letter and attachments, and print the patient's letter (UBRN and password)",
    { applicationGrantable: false },
  ),
  'ers.advice': activity(
    'Request, answer and convert advice and guidance between referrer and provider',
    { applicationGrantable: false },
  ),
} as const satisfies Record<string, ActivityDefinition>;

export type Activity = keyof typeof ACTIVITIES;

export interface RoleDefinition {
  name: string;
  activities: readonly Activity[];
}

/** The role a patient-facing (NHS login, P9) token carries; patients only ever reach their own record. */
export const PATIENT_ROLE = 'patient';

const PDS_ALL = ['pds.read', 'pds.search', 'pds.update', 'pds.create'] as const;
const ERS_REFERRER = [
  'ers.referral.create',
  'ers.referral.read',
  'ers.referral.cancel',
  'ers.service.search',
  'ers.slot.read',
  'ers.appointment.book',
  'ers.appointment.read',
  'ers.worklist.read',
  'ers.referral.letter',
] as const;
const ERS_PROVIDER = [
  'ers.referral.read',
  // a036: a provider cancels a referral sent to it, with the provider's reasons
  'ers.referral.cancel',
  'ers.appointment.read',
  'ers.worklist.read',
  'ers.referral.review',
] as const;
const ERS_PROVIDER_ADMIN = [
  'ers.referral.read',
  'ers.appointment.read',
  'ers.worklist.read',
  'ers.slot.read',
  'ers.appointment.book',
  'ers.slot.publish',
] as const;

/**
 * The e-Referral Service's business functions (the NHSD-eRS-Business-Function header, as published
 * in NHSDigital/e-referrals-service-api specification/components/stu3/schemas/headers/request/
 * BusinessFunction.yaml) and the activities each one allows. A request needs both: a role allowing
 * the route's activity, and a business function allowing it. Functions with no activities here are
 * published but not yet served (provider and commissioner work is later slices of issue 18).
 */
export const ERS_BUSINESS_FUNCTIONS: Readonly<Record<string, readonly Activity[]>> = {
  REFERRING_CLINICIAN: [...ERS_REFERRER, 'ers.advice'],
  REFERRING_CLINICIAN_ADMIN: [...ERS_REFERRER, 'ers.advice'],
  // referrer worklists only (a008 publishes REFERRING_ADMIN for them)
  REFERRING_ADMIN: ['ers.referral.read', 'ers.worklist.read'],
  COMMISSIONER: [],
  SERVICE_PROVIDER_CLINICIAN_ADMIN: [...ERS_PROVIDER, 'ers.advice'],
  SERVICE_PROVIDER_CLINICIAN: [...ERS_PROVIDER, 'ers.advice'],
  SERVICE_PROVIDER_ADMIN: ERS_PROVIDER_ADMIN,
  INFORMATION_ANALYST: [],
  BOOKING_MANAGER: ['ers.slot.read', 'ers.slot.publish'],
  ADDITIONAL_REQUIREMENTS_MANAGER: [],
};

/**
 * The national RBAC roles that may act in each e-RS business function: only clinicians (R8000)
 * refer and review as clinicians; admin and clinical support staff (R8008) act for them (referring
 * clinician admin, provider clinician admin on behalf of a clinician), run worklists and publish
 * slots, as clinicians may too. Functions not listed are published but granted to no role here.
 */
export const ERS_FUNCTION_ROLES: Readonly<Record<string, readonly string[]>> = {
  REFERRING_CLINICIAN: ['R8000'],
  REFERRING_CLINICIAN_ADMIN: ['R8000', 'R8008'],
  REFERRING_ADMIN: ['R8000', 'R8008'],
  SERVICE_PROVIDER_CLINICIAN: ['R8000'],
  SERVICE_PROVIDER_CLINICIAN_ADMIN: ['R8000', 'R8008'],
  SERVICE_PROVIDER_ADMIN: ['R8000', 'R8008'],
  BOOKING_MANAGER: ['R8000', 'R8008'],
};

/** Role codes from the national RBAC database (job role codes), plus the patient pseudo-role. */
export const ROLES: Readonly<Record<string, RoleDefinition>> = {
  R8000: {
    name: 'Clinical Practitioner Access Role',
    activities: [
      ...PDS_ALL,
      'pds.birth-details',
      'scr.view',
      'scr.upload',
      'scr.consent',
      'optout.manage',
      'eps.prescribe',
      'eps.verify-signature',
      'eps.track',
      'care.episode',
      'relationship.claim',
      'emergency.access',
      'directory.read',
      'notifications.subscribe',
      'gp2gp.transfer',
      ...ERS_REFERRER,
      ...ERS_PROVIDER,
      'ers.slot.publish',
      'ers.advice',
    ],
  },
  R8001: {
    name: 'Nurse Access Role',
    activities: [
      'pds.read',
      'pds.search',
      'pds.update',
      'scr.view',
      'scr.upload',
      'scr.consent',
      'care.episode',
      'relationship.claim',
      'emergency.access',
      'directory.read',
    ],
  },
  R8003: {
    name: 'Health Professional Access Role',
    activities: [
      'pds.read',
      'pds.search',
      'scr.view',
      'eps.dispense',
      'eps.verify-signature',
      'eps.track',
      'relationship.claim',
      'emergency.access',
      'directory.read',
    ],
  },
  R8004: {
    name: 'Healthcare Student Access Role',
    activities: ['pds.read', 'pds.search', 'directory.read'],
  },
  R8008: {
    name: 'Admin/Clinical Support Access Role',
    activities: [
      ...PDS_ALL,
      'pds.birth-details',
      'scr.consent',
      'optout.manage',
      'care.episode',
      'directory.read',
      'notifications.subscribe',
      'gp2gp.transfer',
      ...ERS_REFERRER,
      ...ERS_PROVIDER_ADMIN,
      // an admin acts for a clinician: a referring clinician admin, or a provider clinician admin
      // recording a clinician's review on their behalf (NHSD-eRS-On-Behalf-Of-User-ID)
      'ers.referral.review',
      'ers.advice',
    ],
  },
  R8013: {
    name: 'Health Records Manager Access Role',
    activities: [...PDS_ALL, 'pds.merge', 'pds.birth-details', 'care.episode', 'directory.read'],
  },
  R8015: {
    name: 'Systems Support Access Role',
    activities: [
      'directory.read',
      'directory.manage',
      'messaging.admin',
      'operations.metrics',
      'notifications.subscribe',
      'bulk.export',
      'bulk.export.migration',
      'bulk.import',
    ],
  },
  R5080: { name: 'Privacy Officer', activities: ['audit.read', 'directory.read'] },
  [PATIENT_ROLE]: {
    name: 'Patient (NHS login, identity proofing level P9)',
    activities: [
      'pds.read',
      'pds.update',
      'pds.coverage.read',
      'pds.coverage.update',
      'scr.view',
      'scr.consent',
      'optout.manage',
      'audit.read',
      'eps.track',
      // a patient's own referrals only, with the UBRN and password of their letter (the service checks)
      'ers.referral.read',
      'ers.referral.cancel',
      'ers.slot.read',
      'ers.appointment.book',
      'ers.appointment.read',
    ],
  },
};

export function isKnownRole(code: string): boolean {
  return Object.hasOwn(ROLES, code);
}

export function isActivity(name: string): name is Activity {
  return Object.hasOwn(ACTIVITIES, name);
}

export function roleAllows(roleCode: string, activityName: Activity): boolean {
  const role = Object.hasOwn(ROLES, roleCode) ? ROLES[roleCode] : undefined;
  return role !== undefined && role.activities.includes(activityName);
}

/**
 * Whether a role may act in an e-RS business function: the function names the role
 * (ERS_FUNCTION_ROLES) and the role allows every activity the function allows. A clinician's and
 * an admin's functions can allow the same activities (a referring clinician and a referring
 * clinician admin both refer), so the activities alone cannot say who is a clinician.
 */
export function roleGrantsBusinessFunction(roleCode: string, fn: string): boolean {
  if (!Object.hasOwn(ERS_BUSINESS_FUNCTIONS, fn) || !Object.hasOwn(ERS_FUNCTION_ROLES, fn))
    return false;
  const activities = ERS_BUSINESS_FUNCTIONS[fn];
  return (
    ERS_FUNCTION_ROLES[fn].includes(roleCode) &&
    activities.length > 0 &&
    activities.every((a) => roleAllows(roleCode, a))
  );
}

export function roleName(roleCode: string): string {
  return Object.hasOwn(ROLES, roleCode) ? ROLES[roleCode].name : roleCode;
}
