/**
 * SUS's public door: what the platform and other services may use of it. Nothing outside
 * src/services/sus/ imports past this file (eslint.config.js, test/service-doors.test.ts).
 */

// the national extract the CLI runs, and its pseudonymisation key
export { extractSus } from './extract.js';
export { loadOrCreatePseudonymKey } from './pseudonym.js';
