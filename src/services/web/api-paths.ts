/**
 * The platform's published API paths, as the web application (a client like any supplier's
 * system) calls them. test/web-api-paths.test.ts keeps each equal to the serving service's own.
 */
export const API = {
  pds: '/personal-demographics/FHIR/R4',
  scr: '/summary-care-record/FHIR/R4',
  eps: '/electronic-prescriptions/FHIR/R4',
  gp2gp: '/gp2gp/FHIR/R4',
  security: '/security/FHIR/R4',
  directory: '/spine-directory/FHIR/R4',
  notifications: '/events/FHIR/R4',
  referrals: '/referrals/FHIR/STU3',
  referralsR4: '/referrals/FHIR/R4',
  patientReferrals: '/referrals/patient',
  messaging: '/messaging',
} as const;
