import { NHS_NUMBER_SYSTEM } from '../../fhir/identifiers.js';
import type { ApiDescription } from '../../fhir/metadata-route.js';

const NHS = `${NHS_NUMBER_SYSTEM}|<NHS Number>`;

/** What the Summary Care Record API serves, for `GET /metadata` (interactions and operations come from its routes). */
export function scrApi(apiPath: string, publicUrl: string): ApiDescription {
  return {
    apiPath,
    publicUrl,
    software: 'OpenSpine Summary Care Record',
    description:
      'OpenSpine Summary Care Record: GP summary documents, SCR consent and the national data opt-out',
    date: '2026-12-06',
    security:
      "OAuth2 bearer tokens; X-Request-ID (UUID) on every request. Viewing needs 'scr.view' and a legitimate relationship; uploads 'scr.upload'; consent 'scr.consent'",
    searchParams: {
      DocumentReference: [
        { name: 'patient', type: 'token', documentation: `Required: ${NHS}` },
        {
          name: 'type',
          type: 'token',
          documentation: 'Optional: http://snomed.info/sct|196981000000101',
        },
        { name: '_sort', type: 'string', documentation: "Optional: 'date' (the only order)" },
        { name: '_count', type: 'number', documentation: 'Optional: 1 (the latest only)' },
      ],
      Bundle: [
        {
          name: 'composition.identifier',
          type: 'token',
          documentation: 'Required: the Composition identifier of the document',
        },
        {
          name: 'composition.subject:Patient.identifier',
          type: 'token',
          documentation: `Required: ${NHS}`,
        },
      ],
      Consent: [
        {
          name: 'patient',
          type: 'reference',
          documentation: 'Required: the NHS Number (or Patient/<NHS Number>)',
        },
      ],
    },
    documentation: {
      Bundle: 'Create uploads a GP summary document; read needs ?patient=<NHS Number>',
      DocumentReference: "Search lists a patient's summary documents",
      Consent: "Create records a patient's SCR choice; search lists a patient's choices",
      AuditEvent:
        "Create raises a privacy alert (SCR-AlertType, SCR-AlertReason) into the platform's audit trail",
    },
  };
}
