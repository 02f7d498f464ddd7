import type { ApiDescription } from '../../fhir/metadata-route.js';

/**
 * What the Electronic Prescription Service API serves, for `GET /metadata` (interactions and
 * operations come from its routes).
 */
export function epsApi(apiPath: string, publicUrl: string): ApiDescription {
  return {
    apiPath,
    publicUrl,
    software: 'OpenSpine Electronic Prescription Service',
    description:
      'OpenSpine Electronic Prescription Service: prescribing, release, dispensing, claims and the prescription tracker',
    date: '2026-12-06',
    security:
      'OAuth2 bearer tokens; X-Request-ID (UUID) on every request; each operation needs its EPS activity (docs/eps.md)',
    searchParams: {
      Task: [
        {
          name: 'focus',
          type: 'reference',
          documentation:
            'As focus:identifier=<short-form prescription ID>; exactly one of focus and patient',
        },
        {
          name: 'patient',
          type: 'reference',
          documentation: 'As patient:identifier=<NHS Number>; exactly one of focus and patient',
        },
      ],
    },
    documentation: {
      Task: 'The tracker: one Task per prescription issue, with its status history',
    },
  };
}
