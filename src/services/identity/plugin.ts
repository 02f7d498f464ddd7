import type { ServicePlugin } from '../service-deps.js';
import { identityRoutes } from './routes.js';

/**
 * The embedded identity provider (CIS2-shaped OIDC): discovery and the key set at the root, the
 * sign-in pages and token endpoints under /oauth2. No bus consumers or jobs.
 */
export const identityPlugin: ServicePlugin = async (app, deps) => {
  await app.register(identityRoutes(deps));
};
