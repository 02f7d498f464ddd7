/**
 * SCR's event contract: the topics SCR publishes through the outbox and the body of every scr.*
 * message, keyed by NHS Number. Consumers import them through src/services/scr/index.ts.
 */

/** SCR: a new Summary Care Record version was stored. */
export const SCR_DOCUMENT_UPLOADED = 'scr.document.uploaded';
/** SCR: the patient's SCR consent or national opt-out choice changed. */
export const SCR_CONSENT_CHANGED = 'scr.consent.changed';
export const SCR_TOPICS = 'scr.*';

/** Body of scr.* messages. */
export interface ScrEventBody {
  nhsNumber: string;
  time: string;
  event: 'document-uploaded' | 'consent-changed';
  /** document-uploaded: the stored document and its sequence; consent-changed: the Consent recorded. */
  documentId?: string;
  sequence?: number;
  authorOrg?: string;
  consentId?: string;
  /** consent-changed: the choice code before and after. */
  from?: string;
  to?: string;
}
