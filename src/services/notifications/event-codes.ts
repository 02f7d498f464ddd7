import {
  PDS_ADDRESS_CHANGE,
  PDS_BIRTH,
  PDS_DEATH,
  PDS_GP_CHANGE,
  PDS_MERGE,
} from '../pds/index.js';
import { SCR_CONSENT_CHANGED, SCR_DOCUMENT_UPLOADED } from '../scr/index.js';

/**
 * The event codes subscribers name in their criteria and find in MessageHeader.eventCoding. The
 * PDS codes are NEMS's own (https://fhir.nhs.uk/CodeSystem/message-event); SCR and prescription
 * events have no NEMS code, so they carry OpenSpine codes under an OpenSpine system.
 */

export const NEMS_EVENT_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/message-event';
export const OPENSPINE_EVENT_SYSTEM = 'https://openspine.dev/CodeSystem/message-event';

export interface EventCode {
  system: string;
  code: string;
  display: string;
}

const nems = (code: string, display: string): EventCode => ({
  system: NEMS_EVENT_SYSTEM,
  code,
  display,
});
const own = (code: string, display: string): EventCode => ({
  system: OPENSPINE_EVENT_SYSTEM,
  code,
  display,
});

/** Every event code a subscription may name, by code. */
export const EVENT_CODES: Record<string, EventCode> = Object.fromEntries(
  [
    nems('pds-birth-notification-1', 'PDS Birth Notification'),
    nems('pds-death-notification-1', 'PDS Death Notification'),
    nems('pds-change-of-address-1', 'PDS Change of Address'),
    nems('pds-change-of-gp-1', 'PDS Change of GP'),
    nems('pds-record-change-1', 'PDS Record Change'),
    own('scr-document-uploaded-1', 'Summary Care Record uploaded'),
    own('scr-consent-changed-1', 'Summary Care Record consent changed'),
    own('eps-prescription-status-1', 'Prescription status changed'),
  ].map((c) => [c.code, c]),
);

const BY_TOPIC: Record<string, string> = {
  [PDS_BIRTH]: 'pds-birth-notification-1',
  [PDS_DEATH]: 'pds-death-notification-1',
  [PDS_ADDRESS_CHANGE]: 'pds-change-of-address-1',
  [PDS_GP_CHANGE]: 'pds-change-of-gp-1',
  // NEMS publishes a supersession as a record change against the number subscribers used
  [PDS_MERGE]: 'pds-record-change-1',
  [SCR_DOCUMENT_UPLOADED]: 'scr-document-uploaded-1',
  [SCR_CONSENT_CHANGED]: 'scr-consent-changed-1',
};

/** The event code of an outbox topic, or undefined for a topic no subscriber can ask for. */
export function eventCodeForTopic(topic: string): EventCode | undefined {
  if (topic.startsWith('eps.prescription.')) return EVENT_CODES['eps-prescription-status-1'];
  const code = BY_TOPIC[topic];
  return code ? EVENT_CODES[code] : undefined;
}
