/** The web application's public door. */
export { WEB_BASE, WEB_CLIENT_ID } from './paths.js';
export { webPlugin } from './plugin.js';
