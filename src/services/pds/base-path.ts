/** Where the PDS FHIR API is mounted: the one spelling of its base path. */
export const PDS_BASE = '/personal-demographics/FHIR/R4';
