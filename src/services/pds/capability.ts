import type { CapabilityStatement } from 'fhir/r4.js';
import { capabilityStatement } from '../../fhir/capability.js';

const SEARCH_PARAMS: [string, 'string' | 'token' | 'date' | 'number', string][] = [
  ['family', 'string', 'Family name; wildcard * after two characters (non-fuzzy)'],
  ['given', 'string', 'Given name; repeat for several'],
  ['gender', 'token', 'male | female | other | unknown'],
  ['birthdate', 'date', 'eqYYYY-MM-DD, or a range with geYYYY-MM-DD and leYYYY-MM-DD'],
  ['death-date', 'date', 'As birthdate'],
  ['address-postalcode', 'string', 'Postcode; spacing ignored'],
  ['general-practitioner', 'token', 'ODS code of the registered GP practice'],
  ['email', 'token', 'Exact email address'],
  ['phone', 'token', 'Exact phone number'],
  ['_fuzzy-match', 'token', 'true for phonetic and spelling-tolerant matching'],
  ['_exact-match', 'token', 'true for score 1 results only'],
  ['_history', 'token', 'true to match previous names and addresses'],
  ['_max-results', 'number', '1-50'],
];

/** What the PDS API supports, for `GET /metadata`. */
export function pdsCapabilityStatement(base: string): CapabilityStatement {
  return capabilityStatement({
    base,
    software: 'OpenSpine PDS',
    description: 'OpenSpine Personal Demographics Service',
    date: '2026-11-27',
    security: 'OAuth2 bearer tokens (Authorization: Bearer); X-Request-ID (UUID) on every request',
    patchFormat: ['application/json-patch+json'],
    resources: [
      {
        type: 'Patient',
        interaction: [
          { code: 'read' },
          { code: 'search-type' },
          { code: 'patch' },
          { code: 'create' },
          { code: 'history-instance' },
        ],
        versioning: 'versioned-update',
        conditionalUpdate: false,
        searchParam: SEARCH_PARAMS.map(([name, type, documentation]) => ({
          name,
          type,
          documentation,
        })),
        operation: [
          { name: 'merge', definition: `${base}/OperationDefinition/Patient-merge` },
          {
            name: 'process-birth-details',
            definition: `${base}/OperationDefinition/Patient-process-birth-details`,
          },
        ],
      },
      // searched within a patient: GET Patient/[id]/RelatedPerson
      {
        type: 'RelatedPerson',
        documentation: 'Searched as Patient/[NHS Number]/RelatedPerson',
        interaction: [{ code: 'search-type' }],
      },
      {
        type: 'Coverage',
        documentation:
          "The patient's European Health Insurance Card; create (POST) records or replaces it",
        interaction: [{ code: 'create' }, { code: 'search-type' }],
        searchParam: [
          {
            name: 'subscriber',
            type: 'reference',
            documentation: 'As subscriber:identifier=<NHS Number>; the only parameter',
          },
        ],
      },
    ],
  });
}
