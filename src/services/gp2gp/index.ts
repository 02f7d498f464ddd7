/**
 * GP2GP's public door: what the platform and other services may use of it. Nothing outside
 * src/services/gp2gp/ imports past this file (eslint.config.js, test/service-doors.test.ts).
 */

// the plugin the platform registers (routes, the GP-change consumer, the sweep)
export { gp2gpPlugin } from './plugin.js';
