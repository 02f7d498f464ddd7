import { randomUUID } from 'node:crypto';
import { SCR_CONSENT_CHANGED, SCR_DOCUMENT_UPLOADED, type ScrEventBody } from './event-topics.js';
import type { OutboxMessage } from '../../messaging/types.js';
import type { ScrDocument } from './document-model.js';

/** SCR events, keyed by NHS Number and committed in the same batch as the change they report. */

export function documentUploaded(doc: ScrDocument): OutboxMessage {
  const body: ScrEventBody = {
    nhsNumber: doc.patient,
    time: doc.uploaded,
    event: 'document-uploaded',
    documentId: doc.id,
    sequence: doc.sequence,
    authorOrg: doc.authorOrg,
  };
  return { id: randomUUID(), topic: SCR_DOCUMENT_UPLOADED, key: doc.patient, body };
}

export function consentChanged(
  nhsNumber: string,
  consentId: string,
  from: string,
  to: string,
  time: string,
): OutboxMessage {
  const body: ScrEventBody = { nhsNumber, time, event: 'consent-changed', consentId, from, to };
  return { id: randomUUID(), topic: SCR_CONSENT_CHANGED, key: nhsNumber, body };
}
