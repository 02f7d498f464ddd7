/**
 * Migration's public door: what the platform and other services may use of it. Nothing outside
 * src/services/migration/ imports past this file (eslint.config.js, test/service-doors.test.ts).
 */

// the CLI's migration commands: generate a legacy store, migrate it, verify, shadow
export { generateLegacy } from './legacy-generate.js';
export { migrateLegacy } from './migrate-run.js';
export { formatVerifyReport, verifyMigration } from './verify.js';
export { startShadowProxy } from './shadow-proxy.js';
