import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import { healthRoutes } from '../services/health/routes.js';
import { PDS_BASE, pdsRoutes } from '../services/pds/routes.js';
import { registerAccessControl } from '../security/access-control.js';
import type { SigningKey } from '../security/embedded-idp.js';
import { TokenVerifier } from '../security/token-verifier.js';
import type { Repository } from '../store/types.js';
import { registerFhirConventions } from './fhir-conventions.js';
import { registerFailureAudit } from './failure-audit.js';
import './request-context.js';

export interface AppDeps {
  config: Pick<Config, 'publicUrl' | 'audience' | 'externalIssuer' | 'bodyLimitBytes' | 'logLevel'>;
  repo: Repository;
  signingKey: SigningKey;
  logger?: boolean;
}

/** Builds the whole HTTP platform: conventions, security, audit of refusals, and every service. */
export async function buildApp({ config, repo, signingKey, logger = true }: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: logger ? { level: config.logLevel } : false,
    // per-request access lines would dominate the log at national volumes; errors are still logged
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimitBytes,
    return503OnClosing: true,
    // FHIR ids and NHS Numbers are case-sensitive and short; keep default URL parsing
  });
  const verifier = new TokenVerifier({ embeddedPublicJwk: signingKey.publicJwk, audience: config.audience, external: config.externalIssuer });

  registerFhirConventions(app);
  registerAccessControl(app, verifier);
  registerFailureAudit(app, repo);

  app.get('/.well-known/jwks.json', { config: { public: true } }, async () => ({ keys: [signingKey.publicJwk] }));
  await app.register(healthRoutes(repo, new Date()));
  await app.register(pdsRoutes(repo, config.publicUrl), { prefix: PDS_BASE });
  return app;
}
