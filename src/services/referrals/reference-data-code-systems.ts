/**
 * a004's code systems (GET /STU3/CodeSystem/{codeSystemType}) in the published shape
 * (specification/components/stu3/schemas/CodeSystem.yaml; sandbox/src/mocks/stu3/getCodeSystem/
 * responses/). Built from the platform's own rules where it has them, so what a004 says and what
 * the other operations accept cannot disagree:
 * - PRIORITY: the codes are the directory's ERS_PRIORITIES (what a service's e-RS profile may take);
 *   displays and contact days as published (the platform holds none);
 * - REFERRAL-CANCELLATION-REASON: a reason is marked for REFERRING_CLINICIAN(_ADMIN) exactly when
 *   $ers.cancelReferral accepts it from a referrer (REFERRER_CANCELLATION_REASONS in
 *   referral-rules.ts); the other properties as published;
 * - SPECIALTY, CLINIC-TYPE, APPOINTMENT-CANCELLATION-REASON, APPOINTMENT-NON-ATTENDANCE-REASON: the
 *   published lists (reference-data-published.ts), the platform holding no list of its own.
 */
import { ERS_PRIORITIES } from '../directory/index.js';
import {
  APPOINTMENT_CANCELLATION_REASONS,
  CLINIC_TYPES,
  NON_ATTENDANCE_REASONS,
  PRIORITY_DETAILS,
  REFERRAL_CANCELLATION_REASONS,
  SPECIALTIES,
  type DatedConcept,
} from './reference-data-published.js';
import { REFERRER_CANCELLATION_REASONS } from './referral-rules.js';

/** The published codeSystemType values (pathParameters/CodeSystemType.yaml). */
export const CODE_SYSTEM_TYPES = [
  'SPECIALTY',
  'APPOINTMENT-CANCELLATION-REASON',
  'CLINIC-TYPE',
  'REFERRAL-CANCELLATION-REASON',
  'APPOINTMENT-NON-ATTENDANCE-REASON',
  'PRIORITY',
] as const;
export type CodeSystemType = (typeof CODE_SYSTEM_TYPES)[number];

const STU3 = 'https://fhir.nhs.uk/STU3/';
const PROPERTY_URI = `${STU3}CodeSystem/eRS-Concept-Properties-1#`;
const FUNCTION_SYSTEM = `${STU3}CodeSystem/eRS-BusinessFunction-1`;
const SHAREABLE = 'http://hl7.org/fhir/StructureDefinition/shareablecodesystem';
/** When OpenSpine's code systems last changed. */
const DATE = '2026-12-06T00:00:00.000Z';
const REFERRERS = ['REFERRING_CLINICIAN_ADMIN', 'REFERRING_CLINICIAN'];

type Property = { code: string } & Record<string, unknown>;
interface Concept {
  extension?: { url: string; valueDate: string }[];
  code: string;
  display: string;
  property: Property[];
}

const NAMES: Record<CodeSystemType, string> = {
  SPECIALTY: 'e-RS Specialty',
  'APPOINTMENT-CANCELLATION-REASON': 'e-RS Appointment Cancellation Reason',
  'CLINIC-TYPE': 'e-RS Clinic Type',
  'REFERRAL-CANCELLATION-REASON': 'e-RS ReferralRequest Cancellation Reason',
  'APPOINTMENT-NON-ATTENDANCE-REASON': 'e-RS Appointment Non-attendance Reason',
  PRIORITY: 'e-RS Priority',
};

/** The property declarations (beyond effectiveFrom / effectiveTo) each code system's concepts use. */
const PROPERTIES: Record<CodeSystemType, [string, string][]> = {
  SPECIALTY: [],
  'CLINIC-TYPE': [['specialty', 'Coding']],
  'APPOINTMENT-CANCELLATION-REASON': [
    ['appointmentBookingCancellationReasonType', 'Coding'],
    ['willCancelWholeRequest', 'boolean'],
    ['commentIsMandatory', 'boolean'],
    ['businessFunction', 'Coding'],
    ['usage', 'Coding'],
  ],
  'REFERRAL-CANCELLATION-REASON': [
    ['appointmentRequestCancellationReasonType', 'Coding'],
    ['commentIsMandatory', 'boolean'],
    ['canCancelAppointment', 'boolean'],
    ['businessFunction', 'Coding'],
    ['referrerUsage', 'Coding'],
  ],
  'APPOINTMENT-NON-ATTENDANCE-REASON': [],
  PRIORITY: [
    ['deferToProviderContactDays', 'integer'],
    ['triageContactDays', 'integer'],
  ],
};

const instant = (date: string) => (date.length === 10 ? `${date}T00:00:00.000Z` : date);
const coding = (code: string, system: string) => ({ valueCoding: { code, system } });

function dated(from: string, to?: string): Property[] {
  return [
    { code: 'effectiveFrom', valueDateTime: instant(from) },
    ...(to ? [{ code: 'effectiveTo', valueDateTime: instant(to) }] : []),
  ];
}

function datedConcept([code, display, from, to]: DatedConcept): Concept {
  return { code, display, property: dated(from, to) };
}

/** The business functions that may cancel a referral for `reason` (referrers: as the cancel rule says). */
export function cancellationFunctions(reason: {
  code: string;
  providerFunctions: readonly string[];
}): string[] {
  const referrer = (REFERRER_CANCELLATION_REASONS as readonly string[]).includes(reason.code);
  return [...(referrer ? REFERRERS : []), ...reason.providerFunctions];
}

function concepts(type: CodeSystemType, systemUrl: (t: CodeSystemType) => string): Concept[] {
  switch (type) {
    case 'SPECIALTY':
      return SPECIALTIES.map(([code, display, from, to]) => ({
        extension: [
          { url: `${STU3}StructureDefinition/Extension-eRS-EffectivefromDate-1`, valueDate: from },
          ...(to
            ? [{ url: `${STU3}StructureDefinition/Extension-eRS-EffectivetoDate-1`, valueDate: to }]
            : []),
        ],
        code,
        display,
        property: dated(from, to),
      }));
    case 'CLINIC-TYPE':
      return CLINIC_TYPES.map(([code, display, specialty, from, to]) => ({
        code,
        display,
        property: [
          ...dated(from, to),
          { code: 'specialty', ...coding(specialty, systemUrl('SPECIALTY')) },
        ],
      }));
    case 'APPOINTMENT-NON-ATTENDANCE-REASON':
      return NON_ATTENDANCE_REASONS.map(datedConcept);
    case 'APPOINTMENT-CANCELLATION-REASON':
      return APPOINTMENT_CANCELLATION_REASONS.map((r) => ({
        code: r.code,
        display: r.display,
        property: [
          ...dated(r.from, r.to),
          {
            code: 'appointmentBookingCancellationReasonType',
            ...coding(r.type, `${STU3}CodeSystem/eRS-AppointmentBookingCancellationReasonType-1`),
          },
          { code: 'willCancelWholeRequest', valueBoolean: r.willCancelWholeRequest },
          { code: 'commentIsMandatory', valueBoolean: r.commentIsMandatory },
          ...(r.businessFunctions ?? []).map((f) => ({
            code: 'businessFunction',
            ...coding(f, FUNCTION_SYSTEM),
          })),
          ...(r.usage
            ? [
                {
                  code: 'usage',
                  ...coding(r.usage, `${STU3}CodeSystem/eRS-AppointmentCancellationReasonUsage-1`),
                },
              ]
            : []),
        ],
      }));
    case 'REFERRAL-CANCELLATION-REASON':
      return REFERRAL_CANCELLATION_REASONS.map((r) => ({
        code: r.code,
        display: r.display,
        property: [
          ...dated(r.from),
          {
            code: 'appointmentRequestCancellationReasonType',
            ...coding(r.type, `${STU3}CodeSystem/eRS-AppointmentRequestCancellationReasonType-1`),
          },
          { code: 'commentIsMandatory', valueBoolean: r.commentIsMandatory },
          { code: 'canCancelAppointment', valueBoolean: r.canCancelAppointment },
          ...(r.cancelReferral
            ? [
                ...cancellationFunctions(r).map((f) => ({
                  code: 'businessFunction',
                  ...coding(f, FUNCTION_SYSTEM),
                })),
                {
                  code: 'referrerUsage',
                  ...coding(
                    'CANCEL_REFERRAL',
                    `${STU3}CodeSystem/eRS-ReferralRequestCancellationReasonUsage-1`,
                  ),
                },
              ]
            : []),
        ],
      }));
    case 'PRIORITY':
      return ERS_PRIORITIES.map((code) => {
        const p = PRIORITY_DETAILS[code];
        return {
          code,
          display: p.display,
          property: [
            ...dated(p.from),
            { code: 'deferToProviderContactDays', valueInteger: p.deferToProviderContactDays },
            { code: 'triageContactDays', valueInteger: p.triageContactDays },
          ],
        };
      });
  }
}

/**
 * The code system `type` as a004 answers it; `apiBase` is the published `_baseUrl_` (the public
 * URL of /referrals/FHIR), which the published url and the clinic types' specialty system start with.
 */
export function codeSystem(type: CodeSystemType, apiBase: string) {
  const systemUrl = (t: CodeSystemType) => `${apiBase}/STU3/CodeSystem/${t}`;
  const declared: [string, string][] = [
    ['effectiveFrom', 'dateTime'],
    ['effectiveTo', 'dateTime'],
    ...PROPERTIES[type],
  ];
  return {
    id: type,
    meta: {
      profile: [
        type === 'SPECIALTY' ? `${STU3}StructureDefinition/eRS-Specialty-CodeSystem-1` : SHAREABLE,
      ],
    },
    resourceType: 'CodeSystem',
    url: systemUrl(type),
    version: '1',
    name: NAMES[type],
    status: 'active',
    experimental: false,
    date: DATE,
    publisher: 'e-Referral Service',
    description: NAMES[type],
    copyright: 'Copyright (c) 2016 HL7 UK',
    caseSensitive: true,
    content: 'complete',
    property: declared.map(([code, type]) => ({ code, uri: PROPERTY_URI + code, type })),
    concept: concepts(type, systemUrl),
  };
}

export const isCodeSystemType = (name: string): name is CodeSystemType =>
  (CODE_SYSTEM_TYPES as readonly string[]).includes(name);

// a reason the cancel rule accepts from referrers must be one the code system publishes
for (const code of REFERRER_CANCELLATION_REASONS)
  if (!REFERRAL_CANCELLATION_REASONS.some((r) => r.code === code && r.cancelReferral))
    throw new Error(`REFERRAL-CANCELLATION-REASON has no concept for ${code}`);
