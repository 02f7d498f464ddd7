/**
 * The PDS public door: everything another service may use of PDS. Services outside
 * src/services/pds/ import PDS only from here (test/service-doors.test.ts keeps it so); what is
 * not exported here is PDS's own business and may change without telling anyone.
 */

// the patient port: following merges, "known and current", and what other services ask of a record
export {
  currentPatient,
  isRestricted,
  MAX_SUPERSESSION_HOPS,
  numbersMergedInto,
  registeredPractice,
  requireCurrentPatient,
  storedPatient,
  survivingRecord,
  survivorsOf,
  patientRefusals,
} from './patients.js';

// the stored Patient: its resource type and the facts read off it
export {
  DEATH_NOTIFICATION_URL,
  gpOdsCode,
  isCurrentAddress,
  isInvalidated,
  PATIENT,
  RELATED_PERSON,
  replacedBy,
  SECURITY_LABEL_SYSTEM,
} from './patient-model.js';

// writing a Patient outside PDS's own routes (bulk import, migration) indexes it as PDS does
export { indexPatient } from './patient-index.js';

// a Patient as PDS shows it on a read (the migration shadow proxy compares against it)
export { patientForRead } from './patient-views.js';

// the event contract: topics and the body of every pds.patient.* message
export {
  PDS_ADDRESS_CHANGE,
  PDS_BIRTH,
  PDS_DEATH,
  PDS_GP_CHANGE,
  PDS_MERGE,
  PDS_PATIENT_TOPICS,
  type PdsEventName,
  type PdsPatientEventBody,
} from './event-topics.js';

// where the PDS FHIR API is mounted
export { PDS_BASE } from './base-path.js';
