import type { ApiDescription } from '../../fhir/metadata-route.js';

/** What the security API serves, for `GET /metadata` (interactions and operations come from its routes). */
export function securityApi(apiPath: string, publicUrl: string): ApiDescription {
  return {
    apiPath,
    publicUrl,
    software: 'OpenSpine Security',
    description:
      'OpenSpine security services: legitimate relationships, emergency access and the audit trail',
    date: '2026-12-06',
    security:
      'OAuth2 bearer tokens; X-Request-ID (UUID) on every request; reading the audit trail needs audit.read (patients see their own entries)',
    // the names of AUDIT_SEARCH_PARAMS (src/audit/search-params.ts)
    searchParams: {
      AuditEvent: [
        { name: 'patient', type: 'reference', documentation: 'NHS Number' },
        { name: 'agent', type: 'reference', documentation: 'User id of the actor' },
        { name: 'user', type: 'token', documentation: 'As agent' },
        { name: 'org', type: 'token', documentation: 'ODS code of the actor organisation' },
        { name: 'action', type: 'token', documentation: 'Activity, such as pds.read' },
        {
          name: 'type',
          type: 'token',
          documentation: 'patient-record | emergency-access | self-claimed-relationship | security',
        },
        {
          name: 'date',
          type: 'date',
          documentation: 'eq, ge, gt, le or lt; at most twice (a range)',
        },
        { name: '_count', type: 'number', documentation: 'Page size' },
        { name: '_cursor', type: 'string', documentation: 'From a next link' },
      ],
    },
  };
}
