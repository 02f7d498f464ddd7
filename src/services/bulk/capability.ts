import type { ApiDescription } from '../../fhir/metadata-route.js';

/** What the bulk data API serves, for `GET /metadata` (its operations come from its routes). */
export function bulkApi(apiPath: string, publicUrl: string): ApiDescription {
  return {
    apiPath,
    publicUrl,
    software: 'OpenSpine Bulk Data',
    description:
      'OpenSpine bulk data: FHIR Bulk Data $export (asynchronous kick-off, poll, download) and NDJSON $import',
    date: '2026-12-06',
    security:
      "OAuth2 bearer tokens; X-Request-ID (UUID) on every request; 'bulk.export' and 'bulk.import'",
  };
}
