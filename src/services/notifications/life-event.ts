import type { Patient } from 'fhir/r4.js';
import { registeredPractice } from '../../fhir/general-practitioner.js';
import { isValidNhsNumber } from '../../fhir/nhs-number.js';
import type { EpsPrescriptionEventBody } from '../eps/index.js';
import type { PdsPatientEventBody } from '../pds/index.js';
import type { ScrEventBody } from '../scr/index.js';
import type { OutboxMessage } from '../../messaging/types.js';
import { eventCodeForTopic, type EventCode } from './event-codes.js';

/**
 * One published event as the router sees it: which patient, which event code, and which
 * organisations it concerns (for organisation-wide subscriptions). The registered practice is the
 * patient's practice when the router handles the event (the PDS record then); a change of GP
 * concerns both the practice left and the one joined.
 */
export interface LifeEvent {
  /** The outbox message id: the identity of the event everywhere downstream. */
  eventId: string;
  topic: string;
  code: EventCode;
  nhsNumber: string;
  /** When the change was committed. */
  time: string;
  body: Record<string, unknown>;
  /** Other NHS Numbers whose subscribers must hear of it (the number a merge superseded). */
  otherNumbers: string[];
  /** Practices whose registered patients this event is about. */
  practices: string[];
  /** Organisations that took part (a prescription's pharmacy or prescriber, an SCR's author). */
  organisations: string[];
}

const text = (v: unknown): string | undefined =>
  typeof v === 'string' && v !== '' ? v : undefined;

/** The event of an outbox message, or null for a message no subscription can ask for (or a malformed one). */
export function lifeEventOf(
  message: OutboxMessage & { time?: string },
  patient: Patient | null,
): LifeEvent | null {
  const code = eventCodeForTopic(message.topic);
  const body = message.body as Record<string, unknown> | null;
  if (!code || !body || typeof body !== 'object') return null;
  const nhsNumber = text(body.nhsNumber);
  if (!nhsNumber || !isValidNhsNumber(nhsNumber)) return null;
  const practices = new Set<string>();
  const current = patient ? registeredPractice(patient) : undefined;
  if (current) practices.add(current);
  const organisations = new Set<string>();
  const otherNumbers: string[] = [];
  if (message.topic.startsWith('pds.patient.')) {
    const pds = body as unknown as PdsPatientEventBody;
    for (const p of [
      pds.previousPractice,
      pds.practice,
      (pds.current as { practice?: unknown } | undefined)?.practice,
    ])
      if (text(p)) practices.add(p as string);
    if (text(pds.supersededNhsNumber) && isValidNhsNumber(pds.supersededNhsNumber))
      otherNumbers.push(pds.supersededNhsNumber!);
  } else if (message.topic.startsWith('scr.')) {
    const author = text((body as unknown as ScrEventBody).authorOrg);
    if (author) organisations.add(author);
  } else {
    const organisation = text((body as unknown as EpsPrescriptionEventBody).organisation);
    if (organisation) organisations.add(organisation);
  }
  return {
    eventId: message.id,
    topic: message.topic,
    code,
    nhsNumber,
    time: text(body.time) ?? message.time ?? new Date().toISOString(),
    body,
    otherNumbers,
    practices: [...practices],
    organisations: [...organisations],
  };
}
