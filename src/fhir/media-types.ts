/** Media types the FHIR APIs answer with, named once for every route. */
export const FHIR_JSON = 'application/fhir+json; charset=utf-8';
