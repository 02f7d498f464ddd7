import type { ServicePlugin } from '../service-deps.js';
import { scrConsentRoutes } from './consent-routes.js';
import { SCR_BASE, scrDocumentRoutes } from './routes.js';

/**
 * The Summary Care Record (docs in the route tables): the document route table (with the privacy
 * alert route) and the consent route table, each in its own scope under SCR_BASE. SCR has no bus
 * consumers or jobs: it only publishes (through the outbox).
 */
export const scrPlugin: ServicePlugin = async (app, deps) => {
  await app.register(scrDocumentRoutes(deps), { prefix: SCR_BASE });
  await app.register(scrConsentRoutes(deps), { prefix: SCR_BASE });
};
