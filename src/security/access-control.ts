import type { FastifyInstance } from 'fastify';
import { FhirError } from '../fhir/errors.js';
import { ACTIVITIES, roleAllows } from './policy.js';
import type { TokenVerifier } from './token-verifier.js';

/**
 * Deny by default. Every route must say either which activity it needs or that it is public; a
 * route that says neither stops the server from starting. Calls to a protected route need a
 * verified token whose role allows the activity.
 */
export function registerAccessControl(app: FastifyInstance, verifier: TokenVerifier): void {
  app.addHook('onRoute', (route) => {
    const config = (route.config ?? {}) as { activity?: string; public?: boolean };
    if (route.url === '*' || route.url === '/*') return; // fastify's own not-found route
    if (config.public) return;
    if (!config.activity) throw new Error(`route ${route.method} ${route.url} declares no activity and is not public: refusing to start`);
    if (!Object.hasOwn(ACTIVITIES, config.activity)) throw new Error(`route ${route.method} ${route.url} names unknown activity ${config.activity}`);
  });

  app.addHook('onRequest', async (request) => {
    const { activity, public: isPublic } = request.routeOptions.config;
    if (isPublic || !activity) return;
    const principal = await verifier.verify(request.headers.authorization);
    request.ctx.principal = principal;
    if (!roleAllows(principal.role, activity)) {
      throw new FhirError(403, 'ACCESS_DENIED', `Role ${principal.role} is not permitted to perform '${activity}'`);
    }
  });
}
