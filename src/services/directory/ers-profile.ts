/**
 * A directory HealthcareService's e-Referral profile: what the e-Referral Service needs to offer it
 * to a referrer (specialty, clinic types, whether it is booked directly or triages first, the
 * priorities it takes, who may refer to it, its indicative wait). A service without one is not an
 * e-RS service (GP services, EPS dispensing...).
 *
 * Representation on the R4 HealthcareService, as e-RS publishes its own R4 HealthcareService
 * (NHSDigital/e-referrals-service-api sandbox/src/mocks/r4/getService/responses/
 * sampleServiceWithFullAttributes.json): `characteristic` carries the eRS-RequestFlowType and
 * eRS-BookableType codings; `specialty` the e-RS specialty; the clinic types, priorities, advice and
 * guidance, referrer restriction and wait are extensions under ERS_PROFILE_URL (OpenSpine's own:
 * e-RS publishes no extension for them).
 */
import type { CodeableConcept, Extension, HealthcareService } from 'fhir/r4.js';

export const REQUEST_FLOW_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/eRS-RequestFlowType';
export const BOOKABLE_TYPE_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/eRS-BookableType';
/** The STU3 code systems the referral API's search criteria name specialties and clinic types in. */
export const SPECIALTY_SYSTEM = 'https://fhir.nhs.uk/STU3/CodeSystem/SPECIALTY-1';
export const CLINIC_TYPE_SYSTEM = 'https://fhir.nhs.uk/STU3/CodeSystem/CLINIC-TYPE-1';
export const PRIORITY_SYSTEM = 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-Priority-1';
export const ERS_PROFILE_URL = 'https://openspine.dev/fhir/StructureDefinition/ers-service-profile';

export const ERS_PRIORITIES = ['ROUTINE', 'URGENT', 'TWO_WEEK_WAIT'] as const;
export type ErsPriority = (typeof ERS_PRIORITIES)[number];

/** BOOKABLE: the patient books a slot (or defers to the provider); TRIAGE: the provider reviews first. */
export type RequestFlow = 'BOOKABLE' | 'TRIAGE';
/** DIRECTLY_BOOKABLE: slots on e-RS; INDIRECTLY_BOOKABLE: the patient telephones the provider. */
export type BookableType = 'DIRECTLY_BOOKABLE' | 'INDIRECTLY_BOOKABLE';

export interface ErsProfile {
  /** e-RS specialty code, e.g. CARDIOLOGY. */
  specialty: string;
  /** e-RS clinic type codes, e.g. HEART_FAILURE. */
  clinicTypes: string[];
  flow: RequestFlow;
  /** Set for BOOKABLE services. */
  bookable?: BookableType;
  priorities: ErsPriority[];
  /** Takes advice and guidance requests. */
  adviceAndGuidance: boolean;
  /** Only referrers at these ODS codes may find and shortlist it; absent: every referrer. */
  restrictedTo?: string[];
  /** Indicative appointment wait in days (e-RS's IWT), when the provider publishes one. */
  waitDays?: number;
}

const sub = (url: string, value: Record<string, unknown>): Extension => ({ url, ...value });

/** The HealthcareService fields that carry a profile (pure: same profile, same JSON). */
export function ersProfileFields(
  p: ErsProfile,
): Pick<HealthcareService, 'characteristic' | 'specialty' | 'extension'> {
  const characteristic: CodeableConcept[] = [
    { coding: [{ system: REQUEST_FLOW_SYSTEM, code: p.flow }] },
    ...(p.bookable ? [{ coding: [{ system: BOOKABLE_TYPE_SYSTEM, code: p.bookable }] }] : []),
  ];
  const parts: Extension[] = [
    ...p.clinicTypes.map((code) =>
      sub('clinicType', { valueCoding: { system: CLINIC_TYPE_SYSTEM, code } }),
    ),
    ...p.priorities.map((code) =>
      sub('priority', { valueCoding: { system: PRIORITY_SYSTEM, code } }),
    ),
    sub('adviceAndGuidance', { valueBoolean: p.adviceAndGuidance }),
    ...(p.restrictedTo ?? []).map((ods) => sub('restrictedTo', { valueString: ods })),
    ...(p.waitDays === undefined ? [] : [sub('waitDays', { valueInteger: p.waitDays })]),
  ];
  return {
    characteristic,
    specialty: [{ coding: [{ system: SPECIALTY_SYSTEM, code: p.specialty }] }],
    extension: [{ url: ERS_PROFILE_URL, extension: parts }],
  };
}

const codeIn = (concepts: CodeableConcept[] | undefined, system: string) =>
  concepts?.flatMap((c) => c.coding ?? []).find((c) => c.system === system)?.code;

/** The e-RS profile of a stored service, or undefined when it is not offered on e-RS. */
export function ersProfileOf(s: HealthcareService): ErsProfile | undefined {
  const ext = s.extension?.find((e) => e.url === ERS_PROFILE_URL);
  const flow = codeIn(s.characteristic, REQUEST_FLOW_SYSTEM) as RequestFlow | undefined;
  const specialty = codeIn(s.specialty, SPECIALTY_SYSTEM);
  if (!ext || !flow || !specialty) return undefined;
  const parts = ext.extension ?? [];
  const all = (url: string) => parts.filter((e) => e.url === url);
  const restrictedTo = all('restrictedTo').map((e) => e.valueString!);
  const wait = all('waitDays')[0]?.valueInteger;
  return {
    specialty,
    clinicTypes: all('clinicType').map((e) => e.valueCoding!.code!),
    flow,
    bookable: codeIn(s.characteristic, BOOKABLE_TYPE_SYSTEM) as BookableType | undefined,
    priorities: all('priority').map((e) => e.valueCoding!.code as ErsPriority),
    adviceAndGuidance: all('adviceAndGuidance')[0]?.valueBoolean === true,
    ...(restrictedTo.length ? { restrictedTo } : {}),
    ...(wait === undefined ? {} : { waitDays: wait }),
  };
}
