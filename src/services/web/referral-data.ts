/**
 * Reading e-Referral Service answers for the referral pages (staff and patient): what a page shows
 * of a ReferralRequest, an Appointment and a Slot bundle as the e-RS API answers them, the e-RS
 * headers a staff call carries, and the business functions and worklists a role may use. Plain
 * functions over the API's JSON: the pages never read the store.
 */
import {
  ERS_BUSINESS_FUNCTIONS,
  roleGrantsBusinessFunction,
  type Activity,
} from '../../security/policy.js';

const SD = 'https://fhir.nhs.uk/STU3/StructureDefinition/';
const STATE_URL = `${SD}Extension-eRS-ReferralState-1`;
const PRIORITY_URL = `${SD}Extension-eRS-ReferralPriority-1`;
const SHORTLIST_URL = `${SD}Extension-eRS-ReferralShortlist-1`;
const PATHWAY_START_URL = `${SD}Extension-eRS-eReferralPathwayStart-1`;
const COMMISSIONING_URL = `${SD}Extension-eRS-Commissioning-Rule-Org-1`;
const APPOINTMENT_URL = `${SD}Extension-eRS-Appointment-Reference-1`;
export const APPOINTMENT_CANCELLATION_SYSTEM =
  'https://fhir.nhs.uk/STU3/CodeSystem/APPOINTMENT-CANCELLATION-REASON';
const UBRN = /^[0-9]{12}$/;

export const STATE_TEXT: Record<string, string> = {
  NOT_BOOKED: 'Not booked',
  BOOKED: 'Booked',
  DEFERRED_TO_PROVIDER: 'Deferred to provider',
  AWAITING_TRIAGE: 'Awaiting triage',
  TRIAGE_RESPONSE: 'Triage response',
  TRIAGED_PROVIDER_TO_ACTION: 'Triaged: provider to action',
  ACCEPTED: 'Accepted',
  REJECTED: 'Rejected',
  CANCELLED_REFERRAL: 'Cancelled',
};
const PRIORITY_TEXT: Record<string, string> = {
  ROUTINE: 'Routine',
  URGENT: 'Urgent',
  TWO_WEEK_WAIT: 'Two week wait',
};

/** The worklists a008 serves, by side: what a person calls each. */
export const WORKLISTS = {
  referrer: [
    { code: 'AWAITING_BOOKING', text: 'Awaiting booking' },
    { code: 'REJECTED_TRIAGE_RESPONSE', text: 'Rejected or returned by the provider' },
  ],
  provider: [
    { code: 'REFERRALS_FOR_REVIEW', text: 'Referrals for review or triage' },
    { code: 'APPOINTMENT_SLOT_ISSUES', text: 'Appointment slot issues' },
  ],
} as const;

export const FUNCTION_TEXT: Record<string, string> = {
  REFERRING_CLINICIAN: 'Referring clinician',
  REFERRING_CLINICIAN_ADMIN: 'Referring clinician admin',
  REFERRING_ADMIN: 'Referring admin',
  SERVICE_PROVIDER_CLINICIAN: 'Service provider clinician',
  SERVICE_PROVIDER_ADMIN: 'Service provider admin',
};

export type Side = 'referrer' | 'provider';
export const sideOf = (fn: string): Side => (fn.startsWith('REFERRING') ? 'referrer' : 'provider');

/**
 * The business functions `role` may act in that allow `activity`, in FUNCTION_TEXT's order.
 * SERVICE_PROVIDER_CLINICIAN_ADMIN acts on behalf of a named clinician (an On-Behalf-Of header the
 * pages have no way to choose yet), so it is not offered.
 */
export function functionsFor(role: string, activity: Activity): string[] {
  return Object.keys(FUNCTION_TEXT).filter(
    (fn) =>
      roleGrantsBusinessFunction(role, fn) &&
      (ERS_BUSINESS_FUNCTIONS[fn] as readonly string[]).includes(activity),
  );
}

export const functionAllows = (fn: string, activity: Activity): boolean =>
  Object.hasOwn(ERS_BUSINESS_FUNCTIONS, fn) &&
  (ERS_BUSINESS_FUNCTIONS[fn] as readonly string[]).includes(activity);

/** The e-RS headers of a staff call: the business function and the user's organisation. */
export const ersHeaders = (fn: string, org: string, extra: Record<string, string> = {}) => ({
  'nhsd-ers-business-function': fn,
  'nhsd-end-user-organisation-ods': org,
  ...extra,
});

/** A UBRN as typed ("1234 5678 9012" too), or undefined when it is not 12 digits. */
export function normaliseUbrn(value: string | undefined): string | undefined {
  const digits = (value ?? '').replace(/[\s-]/g, '');
  return UBRN.test(digits) ? digits : undefined;
}

/** 123456789012 as 1234 5678 9012, as e-RS prints a UBRN. */
export const formatUbrn = (ubrn: string): string =>
  UBRN.test(ubrn) ? `${ubrn.slice(0, 4)} ${ubrn.slice(4, 8)} ${ubrn.slice(8)}` : ubrn;

const ext = (r: any, url: string): any =>
  (Array.isArray(r?.extension) ? r.extension : []).find((e: any) => e?.url === url);

export interface ServiceRef {
  id: string;
  name: string;
}

export interface ReferralSummary {
  ubrn: string;
  version: number;
  nhsNumber: string;
  state: string;
  stateText: string;
  priority?: string;
  priorityText?: string;
  pathwayStart?: string;
  lastUpdated?: string;
  commissioningOrg?: string;
  shortlist: ServiceRef[];
  appointmentId?: string;
  cancellationReason?: string;
}

/** What the pages show of a ReferralRequest as e-RS answers it. */
export function summariseReferral(r: any): ReferralSummary {
  const stateParts: any[] = ext(r, STATE_URL)?.extension ?? [];
  const state = String(stateParts.find((e) => e.url === 'state')?.valueCoding?.code ?? '');
  const reason = stateParts.find((e) => e.url === 'reason')?.valueCoding;
  const priority = ext(r, PRIORITY_URL)?.valueCodeableConcept?.coding?.[0]?.code;
  const listRef = String(ext(r, SHORTLIST_URL)?.valueReference?.reference ?? '#shortlist');
  const list = (Array.isArray(r?.contained) ? r.contained : []).find(
    (c: any) => c?.resourceType === 'List' && `#${c.id}` === listRef,
  );
  const shortlist: ServiceRef[] = (list?.entry ?? [])
    .map((e: any) => ({
      id: String(e?.item?.identifier?.value ?? ''),
      name: String(e?.item?.display ?? e?.item?.identifier?.value ?? ''),
    }))
    .filter((s: ServiceRef) => s.id);
  const appointmentRef = ext(r, APPOINTMENT_URL)?.valueReference?.reference;
  return {
    ubrn: String(r?.id ?? ''),
    version: Number(r?.meta?.versionId ?? 0),
    nhsNumber: String(r?.subject?.identifier?.value ?? ''),
    state,
    stateText: STATE_TEXT[state] ?? state,
    ...(priority ? { priority, priorityText: PRIORITY_TEXT[priority] ?? priority } : {}),
    ...(ext(r, PATHWAY_START_URL)?.valueInstant
      ? { pathwayStart: String(ext(r, PATHWAY_START_URL).valueInstant) }
      : {}),
    ...(r?.meta?.lastUpdated ? { lastUpdated: String(r.meta.lastUpdated) } : {}),
    ...(ext(r, COMMISSIONING_URL)?.valueIdentifier?.value
      ? { commissioningOrg: String(ext(r, COMMISSIONING_URL).valueIdentifier.value) }
      : {}),
    shortlist,
    ...(typeof appointmentRef === 'string'
      ? { appointmentId: appointmentRef.replace(/^Appointment\//, '') }
      : {}),
    ...(reason?.code ? { cancellationReason: String(reason.display ?? reason.code) } : {}),
  };
}

export interface AppointmentSummary {
  id: string;
  version: number;
  status: string;
  start?: string;
  end?: string;
  service?: ServiceRef;
  slotId?: string;
}

/** What the pages show of an Appointment as e-RS answers it. */
export function summariseAppointment(a: any): AppointmentSummary {
  const people: any[] = Array.isArray(a?.participant) ? a.participant : [];
  const service = people.find((p) => /ers-service$/.test(p?.actor?.identifier?.system ?? ''));
  const slotRef = a?.slot?.[0]?.reference;
  return {
    id: String(a?.id ?? ''),
    version: Number(a?.meta?.versionId ?? 0),
    status: String(a?.status ?? ''),
    ...(a?.start ? { start: String(a.start) } : {}),
    ...(a?.end ? { end: String(a.end) } : {}),
    ...(service
      ? {
          service: {
            id: String(service.actor.identifier.value),
            name: String(service.actor.display ?? service.actor.identifier.value),
          },
        }
      : {}),
    ...(typeof slotRef === 'string' ? { slotId: slotRef.replace(/^Slot\//, '') } : {}),
  };
}

export interface SlotChoice {
  /** The radio's value: `<service>|<slot id>`. */
  value: string;
  service: ServiceRef;
  slotId: string;
  start: string;
  end: string;
  /** The named clinician's SDS user ID, when the slot's schedule names one. */
  clinician?: string;
}

const SDS_USER = 'http://fhir.nhs.net/Id/sds-user-id';

/** The free Slots of an a015 (or the patient's slot search) answer, for one service. */
export function slotsOf(bundle: any, service: ServiceRef): SlotChoice[] {
  const entries: any[] = Array.isArray(bundle?.entry) ? bundle.entry : [];
  const resources = entries.map((e) => e?.resource);
  const clinicianOf = (scheduleRef: unknown): string | undefined => {
    const schedule = resources.find(
      (r) => r?.resourceType === 'Schedule' && `Schedule/${r.id}` === scheduleRef,
    );
    const actors: any[] = Array.isArray(schedule?.actor) ? schedule.actor : [];
    const value = actors.find((a) => a?.identifier?.system === SDS_USER)?.identifier?.value;
    return typeof value === 'string' ? value : undefined;
  };
  return resources
    .filter((s) => s?.resourceType === 'Slot' && s.status === 'free')
    .map((s) => {
      const clinician = clinicianOf(s.schedule?.reference);
      return {
        value: `${service.id}|${s.id}`,
        service,
        slotId: String(s.id),
        start: String(s.start),
        end: String(s.end),
        ...(clinician ? { clinician } : {}),
      };
    });
}

/** A posted slot choice (`<service>|<slot id>`), when it is well formed. */
export function parseSlotChoice(
  value: string | undefined,
): { service: string; slot: string } | null {
  const m = /^([A-Za-z0-9._-]{1,64})\|([A-Za-z0-9._-]{1,120})$/.exec(value ?? '');
  return m ? { service: m[1], slot: m[2] } : null;
}

/** The eRS error code and first diagnostics of a refusal, when it is an OperationOutcome. */
export function ersRefusal(body: any): { code: string; text: string } {
  const issue = body?.issue?.[0];
  return {
    code: String(issue?.details?.coding?.[0]?.code ?? ''),
    text: String(issue?.diagnostics ?? ''),
  };
}

/** The appointment cancellation reasons a referrer or patient may give (comment needed or not). */
export const APPOINTMENT_CANCELLATION_REASONS = [
  { code: 'PATIENT_ILL', text: 'The patient is ill', comment: false },
  { code: 'PATIENT_HOLIDAY', text: 'The patient is on holiday', comment: false },
  { code: 'PATIENT_OTHER_ENGAGEMENT', text: 'The patient has another engagement', comment: true },
  { code: 'PATIENT_APPOINTMENT_CANCELLATION_OTHER', text: 'Another reason', comment: true },
] as const;

/** 2026-12-08T09:00:00Z as "Tuesday 8 December 2026 at 09:00" (slots are published in UTC). */
export function slotTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const date = d.toLocaleDateString('en-GB', {
    weekday: 'long',
    day: 'numeric',
    month: 'long',
    year: 'numeric',
    timeZone: 'UTC',
  });
  return `${date} at ${d.toISOString().slice(11, 16)}`;
}
