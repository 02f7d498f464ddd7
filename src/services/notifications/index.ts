/**
 * Notifications's public door: what the platform and other services may use of it. Nothing outside
 * src/services/notifications/ imports past this file (eslint.config.js,
 * test/service-doors.test.ts).
 */

// the plugin the platform registers (subscriptions, the router and deliverer consumers)
export { notificationsPlugin } from './plugin.js';
