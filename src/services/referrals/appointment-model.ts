/**
 * A referral's appointment: the STU3 Appointment as e-RS publishes it (eRS-Appointment-1,
 * specification/components/stu3/schemas/eRS-Appointment.yaml). A booking into a slot is `booked`
 * with the slot, start and end; a deferral to the provider or to triage is `proposed` with its
 * eRS-ReviewReason; a cancelled booking is `cancelled` with its APPOINTMENT-CANCELLATION-REASON.
 * A referral has at most one current appointment, named by its Extension-eRS-Appointment-Reference-1;
 * earlier ones stay stored. Appointment ids are `<ubrn>-<n>` (the n-th appointment of the referral).
 */
import { resourceType, type IndexEntry } from '../../store/resource-store.js';
import {
  ERS_SERVICE_SYSTEM,
  NHS_NUMBER_SYSTEM_STU3,
  type Extension,
  type ReferralRequest,
} from './referral-model.js';

export const APPOINTMENT_PROFILES = [
  'https://fhir.nhs.uk/STU3/StructureDefinition/eRS-Appointment-1',
  'https://fhir.hl7.org.uk/STU3/StructureDefinition/CareConnect-Appointment-1',
];
export const APPOINTMENT_REFERENCE_URL =
  'https://fhir.nhs.uk/STU3/StructureDefinition/Extension-eRS-Appointment-Reference-1';
export const REVIEW_REASON_SYSTEM = 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-ReviewReason-1';
export const REVIEW_OUTCOME_SYSTEM = 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-ReviewOutcome-1';
export const CLINICIAN_TYPE_SYSTEM = 'http://hl7.org/fhir/ValueSet/encounter-participant-type';
export const APPOINTMENT_DESCRIPTION = 'e-Referral Appointment';
export const APPOINTMENT_ID_PATTERN = /^[0-9]{12}-[0-9]{1,4}$/;

export type AppointmentStatus = 'booked' | 'proposed' | 'cancelled';

export interface Coding {
  system: string;
  code: string;
  display?: string;
}

export interface Participant {
  type?: { coding: Coding[] };
  actor: { identifier: { system: string; value: string }; display?: string };
  status: 'accepted';
}

export interface Appointment {
  resourceType: 'Appointment';
  id: string;
  meta?: { versionId?: string; lastUpdated?: string; profile?: string[] };
  language: 'en';
  status: AppointmentStatus;
  reason?: { coding: Coding[] }[];
  description: string;
  start?: string;
  end?: string;
  slot?: { reference: string }[];
  created: string;
  comment?: string;
  incomingReferral: { reference: string }[];
  participant: Participant[];
}

export const APPOINTMENT = resourceType<Appointment>('Appointment');

/** The UBRN of the referral an appointment id belongs to. */
export const ubrnOfAppointment = (id: string): string => id.slice(0, 12);

/** The id of the referral's current appointment, when it has one. */
export function appointmentIdOf(referral: ReferralRequest): string | undefined {
  const ext = referral.extension.find((e) => e.url === APPOINTMENT_REFERENCE_URL);
  const ref = (ext?.valueReference as { reference?: string } | undefined)?.reference;
  return ref?.replace(/^Appointment\//, '');
}

/** The id the referral's next appointment takes. */
export function nextAppointmentId(referral: ReferralRequest): string {
  const current = appointmentIdOf(referral);
  const n = current ? Number(current.split('-')[1]) + 1 : 1;
  return `${referral.id}-${n}`;
}

/** The referral naming `id` as its current appointment (the published reference extension). */
export function withAppointment(referral: ReferralRequest, id: string): ReferralRequest {
  const extension: Extension[] = [
    ...referral.extension.filter((e) => e.url !== APPOINTMENT_REFERENCE_URL),
    { url: APPOINTMENT_REFERENCE_URL, valueReference: { reference: `Appointment/${id}` } },
  ];
  return { ...referral, extension };
}

export const referralReference = (ubrn: string, version: number) => ({
  reference: `ReferralRequest/${ubrn}/_history/${version}`,
});

/** The service and patient participants (and the named clinician, when there is one). */
export function participants(
  service: { id: string; name?: string },
  nhsNumber: string,
  clinician?: string,
): Participant[] {
  return [
    {
      actor: {
        identifier: { system: ERS_SERVICE_SYSTEM, value: service.id },
        ...(service.name ? { display: service.name } : {}),
      },
      status: 'accepted',
    },
    {
      actor: { identifier: { system: NHS_NUMBER_SYSTEM_STU3, value: nhsNumber } },
      status: 'accepted',
    },
    ...(clinician
      ? [
          {
            type: { coding: [{ system: CLINICIAN_TYPE_SYSTEM, code: 'CON' }] },
            actor: {
              identifier: { system: 'http://fhir.nhs.net/Id/sds-user-id', value: clinician },
            },
            status: 'accepted' as const,
          },
        ]
      : []),
  ];
}

/** The service an appointment is with (its ers-service participant). */
export function serviceOfAppointment(a: Appointment): string {
  return a.participant.find((p) => p.actor.identifier.system === ERS_SERVICE_SYSTEM)!.actor
    .identifier.value;
}

/** The slot id an appointment holds, when it is booked into one. */
export const slotOfAppointment = (a: Appointment): string | undefined =>
  a.slot?.[0]?.reference.replace(/^Slot\//, '');

export function appointmentIndex(a: Appointment): IndexEntry[] {
  const slot = slotOfAppointment(a);
  return [
    { param: 'ubrn', value: ubrnOfAppointment(a.id) },
    { param: 'status', value: a.status },
    { param: 'service', value: serviceOfAppointment(a) },
    ...(slot && a.status === 'booked' ? [{ param: 'slot', value: slot }] : []),
  ];
}

export function appointmentWrite(a: Appointment, expectedVersion: number) {
  return {
    type: APPOINTMENT,
    id: a.id,
    expectedVersion,
    resource: a,
    index: appointmentIndex(a),
  };
}
