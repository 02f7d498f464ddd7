/**
 * The directory's public door: everything another service may use of the directory (ODS
 * organisations, practitioner roles, endpoints). Services outside src/services/directory/ import
 * it only from here; the rest is the directory's own business.
 */

// the stored Organization: its resource type and the index parameter holding its ODS code
export { ODS_CODE, ORGANIZATION } from './organization-model.js';

// the stored HealthcareService's resource type (e-Referral shortlists name services by id)
export { HEALTHCARE_SERVICE } from './healthcare-service-model.js';

// the demo directory a fresh store starts with
export { seedDirectory } from './seed-directory.js';

// what the CLI does to the directory (ODS extracts, endpoints, practitioner roles)
export { LAYOUTS, type OdsLayout } from './ods-csv.js';
export { formatReport, ImportError, importOdsExtract } from './ods-import.js';
export { addEndpoint, EndpointError } from './endpoint-model.js';
export {
  addPractitionerRole,
  PRACTITIONER_ROLE,
  PractitionerRoleError,
} from './practitioner-role-model.js';

// a service's e-Referral profile (specialty, clinic types, booking or triage, who may refer)
export {
  ERS_PRIORITIES,
  ersProfileFields,
  ersProfileOf,
  type BookableType,
  type ErsPriority,
  type ErsProfile,
  type RequestFlow,
} from './ers-profile.js';
export {
  addressOf,
  buildHealthcareService,
  indexHealthcareService,
} from './healthcare-service-model.js';
