/**
 * The security service's public door: what the platform and other services may use of it. Nothing
 * outside src/services/security/ imports past this file (eslint.config.js,
 * test/service-doors.test.ts).
 */

// the plugin the platform registers (relationships, emergency access and the audit API)
export { securityPlugin } from './plugin.js';
