import type { Address, Patient } from 'fhir/r4.js';
import { randomUUID } from 'node:crypto';
import { registeredPractice } from '../../fhir/general-practitioner.js';
import type { OutboxMessage } from '../../messaging/types.js';
import {
  PDS_ADDRESS_CHANGE,
  PDS_BIRTH,
  PDS_DEATH,
  PDS_GP_CHANGE,
  PDS_MERGE,
  type PdsEventName,
  type PdsPatientEventBody,
} from './event-topics.js';
import { DEATH_NOTIFICATION_URL, isCurrentAddress } from './patient-model.js';

/**
 * The life events a PDS write produced, as outbox messages keyed by NHS Number, committed in the
 * same batch as the write (so an event exists exactly when the change does, and a replayed request,
 * which commits nothing, publishes nothing).
 */

/** The current home address (or the first current address when none is marked home), in comparable form. */
function homeAddress(patient: Patient): Record<string, unknown> | null {
  const current = (patient.address ?? []).filter((a) => isCurrentAddress(a));
  const home: Address | undefined = current.find((a) => a.use === 'home') ?? current[0];
  if (!home) return null;
  const { line, city, district, postalCode, country } = home;
  return JSON.parse(JSON.stringify({ line, city, district, postalCode, country }));
}

function deathFacts(patient: Patient): Record<string, unknown> | null {
  if (!patient.deceasedDateTime && !patient.deceasedBoolean) return null;
  const notice = patient.extension
    ?.find((e) => e.url === DEATH_NOTIFICATION_URL)
    ?.extension?.find((e) => e.url === 'deathNotificationStatus')?.valueCodeableConcept
    ?.coding?.[0]?.code;
  return JSON.parse(
    JSON.stringify({
      deceasedDateTime: patient.deceasedDateTime,
      deceasedBoolean: patient.deceasedBoolean,
      deathNotificationStatus: notice,
    }),
  );
}

function message(
  topic: string,
  event: PdsEventName,
  nhsNumber: string,
  version: number,
  time: string,
  facts: Partial<PdsPatientEventBody>,
): OutboxMessage {
  const body: PdsPatientEventBody = { nhsNumber, version, time, event, ...facts };
  return { id: randomUUID(), topic, key: nhsNumber, body };
}

/** Events of a new record: the birth. */
export function birthEvents(patient: Patient, time: string): OutboxMessage[] {
  const nhs = patient.id!;
  const current = JSON.parse(
    JSON.stringify({
      birthDate: patient.birthDate,
      gender: patient.gender,
      practice: registeredPractice(patient) ?? null,
      address: homeAddress(patient) ?? undefined,
    }),
  );
  return [message(PDS_BIRTH, 'birth', nhs, 1, time, { current })];
}

/** Events of an update from `before` to `after` (version is the new version). */
export function updateEvents(
  before: Patient,
  after: Patient,
  version: number,
  time: string,
): OutboxMessage[] {
  const nhs = after.id!;
  const out: OutboxMessage[] = [];
  const deathBefore = deathFacts(before),
    deathAfter = deathFacts(after);
  if (!deathBefore && deathAfter)
    out.push(message(PDS_DEATH, 'death', nhs, version, time, { current: deathAfter }));
  const addressBefore = homeAddress(before),
    addressAfter = homeAddress(after);
  if (JSON.stringify(addressBefore) !== JSON.stringify(addressAfter)) {
    out.push(
      message(PDS_ADDRESS_CHANGE, 'address-change', nhs, version, time, {
        previous: addressBefore ? { address: addressBefore } : {},
        current: addressAfter ? { address: addressAfter } : {},
      }),
    );
  }
  const practiceBefore = registeredPractice(before) ?? null,
    practiceAfter = registeredPractice(after) ?? null;
  if (practiceBefore !== practiceAfter) {
    out.push(
      message(PDS_GP_CHANGE, 'gp-change', nhs, version, time, {
        previousPractice: practiceBefore,
        practice: practiceAfter,
        previous: { practice: practiceBefore },
        current: { practice: practiceAfter },
      }),
    );
  }
  return out;
}

/** The merge of `superseded` into the survivor, keyed by the survivor's number. */
export function mergeEvents(
  survivor: string,
  superseded: string,
  version: number,
  time: string,
): OutboxMessage[] {
  return [
    message(PDS_MERGE, 'merge', survivor, version, time, {
      supersededNhsNumber: superseded,
      previous: { nhsNumber: superseded },
      current: { nhsNumber: survivor },
    }),
  ];
}
