/**
 * Bulk FHIR's public door: what another service may use of bulk export. Services outside
 * src/services/bulk/ import it only from here.
 */

// walking the patient compartment in key order, shared with national extracts (SUS)
export { compartmentOf, FIRST_PREFIXES, walkStep } from './export-enumerate.js';
