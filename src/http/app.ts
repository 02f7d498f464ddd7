import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import { AuditWriter } from '../audit/audit-writer.js';
import { DIRECTORY_BASE, directoryRoutes } from '../services/directory/routes.js';
import { NOTIFICATIONS_BASE, notificationRoutes } from '../services/notifications/routes.js';
import { GP2GP_BASE, gp2gpRoutes } from '../services/gp2gp/routes.js';
import { EPS_BASE, epsRoutes } from '../services/eps/routes.js';
import { BULK_BASE, bulkRoutes } from '../services/bulk/routes.js';
import { healthRoutes } from '../services/health/routes.js';
import { identityRoutes, oidcIssuer } from '../services/identity/routes.js';
import { PDS_BASE, pdsRoutes } from '../services/pds/routes.js';
import { coverageRoutes } from '../services/pds/coverage-routes.js';
import { birthDetailsRoutes } from '../services/pds/birth-details-routes.js';
import { SCR_BASE, scrDocumentRoutes } from '../services/scr/routes.js';
import { scrConsentRoutes } from '../services/scr/consent-routes.js';
import { auditRoutes } from '../services/security/audit-routes.js';
import { SECURITY_BASE, securityRoutes } from '../services/security/routes.js';
import { registerAccessControl } from '../security/access-control.js';
import { RevocationList } from '../security/accounts/revocations.js';
import type { SigningKey } from '../security/embedded-idp.js';
import type { Principal } from '../security/principal.js';
import { registerRateLimits } from '../security/rate-limit.js';
import { LegitimateRelationships } from '../security/relationships.js';
import { TokenVerifier } from '../security/token-verifier.js';
import { createBus, createScheduler } from '../messaging/create-bus.js';
import { registerMessaging } from '../messaging/fastify-messaging.js';
import { deadLetterRoutes, MESSAGING_BASE } from '../services/messaging/dead-letter-routes.js';
import type { JobScheduler, MessageBus } from '../messaging/types.js';
import type { Repository } from '../store/types.js';
import { frameworkErrorHandler, registerFhirConventions } from './fhir-conventions.js';
import { registerFailureAudit } from './failure-audit.js';
import { registerLocationRelease } from './location-release-hook.js';
import { LocationRelease } from '../security/location-release.js';
import { clientErrorHandler } from './client-errors.js';
import { registerSearchsetSelfLinks } from './searchset-self-link.js';
import '../context.js';

export type AppConfig = Pick<
  Config,
  | 'publicUrl'
  | 'audience'
  | 'externalIssuer'
  | 'bodyLimitBytes'
  | 'logLevel'
  | 'revocationCacheMs'
  | 'accessTokenSeconds'
  | 'rateLimit'
  | 'auditCheckpointSeconds'
  | 'messaging'
  | 'natsUrl'
  | 'natsStream'
  | 'nodeId'
  | 'messagePollMs'
>;

export interface AppDeps {
  config: AppConfig;
  repo: Repository;
  signingKey: SigningKey;
  logger?: boolean;
  /** The message bus (app.bus); by default the one config.messaging names, over repo's outbox. Started on ready, stopped on close. */
  bus?: MessageBus;
  /** Cluster-wide jobs (app.scheduler); by default leases in repo. */
  scheduler?: JobScheduler;
  /** Extra routes registered with the platform's hooks in force (tests use it for probe routes). */
  extraRoutes?: (app: FastifyInstance) => void | Promise<void>;
  /** Benchmarks only: run every request as this caller with authentication and policy switched off. */
  benchmarkPrincipal?: Principal;
}

/** Builds the whole HTTP platform: conventions, security, audit of refusals, and every service. */
export async function buildApp({
  config,
  repo,
  signingKey,
  logger = true,
  extraRoutes,
  benchmarkPrincipal,
  bus,
  scheduler,
}: AppDeps): Promise<FastifyInstance> {
  const auditWriter = new AuditWriter(repo);
  const app = Fastify({
    clientErrorHandler: clientErrorHandler(auditWriter),
    // the router's refusals (bad percent-encoding, an over-long path id) are OperationOutcomes too
    frameworkErrors: frameworkErrorHandler,
    logger: logger ? { level: config.logLevel } : false,
    // per-request access lines would dominate the log at national volumes; errors are still logged
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimitBytes,
    // while closing, fhir-conventions answers 503 with an OperationOutcome (Fastify's own is a bare JSON body)
    return503OnClosing: false,
  });
  const verifier = new TokenVerifier({
    embeddedPublicJwk: signingKey.publicJwk,
    embeddedIssuers: [oidcIssuer(config.publicUrl)],
    audience: config.audience,
    external: config.externalIssuer,
  });
  const revocations = new RevocationList(repo, config.revocationCacheMs);
  const relationships = new LegitimateRelationships(repo);

  const messagingLog = (message: string, err?: unknown) => app.log.warn({ err }, message);
  registerMessaging(
    app,
    bus ?? (await createBus(config, repo, messagingLog)),
    scheduler ?? createScheduler(config, repo, messagingLog),
  );
  registerFhirConventions(app);
  registerSearchsetSelfLinks(app, config.publicUrl);
  registerLocationRelease(app, new LocationRelease(repo));
  registerAccessControl(app, { verifier, revocations, relationships, benchmarkPrincipal });
  await registerRateLimits(app, config.rateLimit);
  registerFailureAudit(app, auditWriter);

  await app.register(identityRoutes({ repo, signingKey, config, revocations }));
  await app.register(healthRoutes(repo, new Date()));
  await app.register(pdsRoutes(repo, config.publicUrl), { prefix: PDS_BASE });
  await app.register(coverageRoutes(repo, config.publicUrl), { prefix: PDS_BASE });
  await app.register(birthDetailsRoutes(repo, config.publicUrl), { prefix: PDS_BASE });
  await app.register(scrDocumentRoutes(repo, config.publicUrl), { prefix: SCR_BASE });
  await app.register(scrConsentRoutes(repo, config.publicUrl), {
    prefix: '/summary-care-record/FHIR/R4',
  });
  await app.register(securityRoutes(repo, relationships), { prefix: SECURITY_BASE });
  await app.register(auditRoutes(repo, { signingKey, config }), { prefix: SECURITY_BASE });
  await app.register(directoryRoutes(repo, config.publicUrl), { prefix: DIRECTORY_BASE });
  await app.register(epsRoutes(repo, config.publicUrl), { prefix: EPS_BASE });
  await app.register(gp2gpRoutes(repo, config.publicUrl), { prefix: GP2GP_BASE });
  await app.register(notificationRoutes({ repo, signingKey, publicUrl: config.publicUrl }), {
    prefix: NOTIFICATIONS_BASE,
  });
  await app.register(deadLetterRoutes(repo), { prefix: MESSAGING_BASE });
  await app.register(bulkRoutes(repo, config.publicUrl), { prefix: BULK_BASE });
  if (extraRoutes) await app.register(async (scope) => extraRoutes(scope));
  return app;
}
