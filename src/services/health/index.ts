/**
 * The health service's public door: what the platform and other services may use of it. Nothing
 * outside src/services/health/ imports past this file (eslint.config.js,
 * test/service-doors.test.ts).
 */

// the plugin the platform registers (liveness and readiness)
export { healthPlugin } from './plugin.js';
