import type { CapabilityStatement, CapabilityStatementRestResource } from 'fhir/r4.js';
import { capabilityStatement } from '../../fhir/capability.js';
import {
  ENDPOINT_PARAMS,
  HEALTHCARE_SERVICE_PARAMS,
  ORGANIZATION_PARAMS,
  PRACTITIONER_ROLE_PARAMS,
} from './directory-search.js';

type ParamType = 'string' | 'token' | 'reference';
/** The FHIR type of each search parameter name the directory supports (the parsers are the source of the names). */
const PARAM_TYPES: Record<string, ParamType> = {
  name: 'string',
  'address-postalcode': 'string',
  'location.address-postalcode': 'string',
  organization: 'reference',
  partof: 'reference',
};

function resource(
  type: string,
  params: Record<string, unknown>,
  writable: boolean,
  readBy = 'id',
): CapabilityStatementRestResource {
  return {
    type,
    documentation: `Read by ${readBy}; search needs at least one parameter; _count 1-1000 (default 50)`,
    interaction: [
      { code: 'read' },
      { code: 'search-type' },
      ...(writable ? [{ code: 'create' as const }, { code: 'update' as const }] : []),
    ],
    ...(writable
      ? { versioning: 'versioned-update' as const, conditionalUpdate: false, updateCreate: false }
      : {}),
    searchParam: Object.keys(params).map((name) => ({ name, type: PARAM_TYPES[name] ?? 'token' })),
  };
}

/** What the Spine Directory API supports, for `GET /metadata`, derived from its search tables. */
export function directoryCapabilityStatement(base: string): CapabilityStatement {
  return capabilityStatement({
    base,
    software: 'OpenSpine Spine Directory',
    description:
      'OpenSpine Spine Directory Service (SDS/ODS): organisations, services, role profiles and endpoints',
    date: '2026-11-28',
    security:
      "OAuth2 bearer tokens; X-Request-ID (UUID) on every request. Reading needs 'directory.read'; create and update (If-Match) need 'directory.manage'",
    resources: [
      resource(
        'Organization',
        ORGANIZATION_PARAMS,
        false,
        'ODS code; loaded from ODS extracts by `openspine directory import`',
      ),
      resource('Endpoint', ENDPOINT_PARAMS, true),
      resource('HealthcareService', HEALTHCARE_SERVICE_PARAMS, true),
      resource('PractitionerRole', PRACTITIONER_ROLE_PARAMS, true),
    ],
  });
}
