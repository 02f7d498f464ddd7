/**
 * Identity's public door: what the platform and other services may use of it. Nothing outside
 * src/services/identity/ imports past this file (eslint.config.js, test/service-doors.test.ts).
 */

// the issuer the platform's tokens name
export { oidcIssuer } from './routes.js';

// the demo clinician a fresh demo store starts with
export { ensureDemoIdentity } from './demo-identity.js';
