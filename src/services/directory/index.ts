/**
 * The directory's public door: everything another service may use of the directory (ODS
 * organisations, practitioner roles, endpoints). Services outside src/services/directory/ import it
 * only from here; the rest is the directory's own business.
 */

// the stored Organization: its resource type and the index parameter holding its ODS code
export { ODS_CODE, ORGANIZATION } from './organization-model.js';
