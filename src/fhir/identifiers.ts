/** FHIR identifier systems shared across services: declared once here, imported everywhere else. */

/** NHS Number, as PDS and every national FHIR API spell the system. */
export const NHS_NUMBER_SYSTEM = 'https://fhir.nhs.uk/Id/nhs-number';

/** ODS organisation code (practices, pharmacies, trusts). */
export const ODS_SYSTEM = 'https://fhir.nhs.uk/Id/ods-organization-code';
