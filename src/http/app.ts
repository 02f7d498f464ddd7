import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import { AuditWriter } from '../audit/audit-writer.js';
import { bulkPlugin } from '../services/bulk/plugin.js';
import { directoryPlugin } from '../services/directory/plugin.js';
import { epsPlugin } from '../services/eps/plugin.js';
import { gp2gpPlugin } from '../services/gp2gp/plugin.js';
import { healthPlugin } from '../services/health/plugin.js';
import { oidcIssuer } from '../services/identity/index.js';
import { identityPlugin } from '../services/identity/plugin.js';
import { messagingPlugin } from '../services/messaging/plugin.js';
import { notificationsPlugin } from '../services/notifications/plugin.js';
import { pdsPlugin } from '../services/pds/plugin.js';
import { referralsPlugin } from '../services/referrals/plugin.js';
import { scrPlugin } from '../services/scr/plugin.js';
import { securityPlugin } from '../services/security/plugin.js';
import { webPlugin } from '../services/web/plugin.js';
import type { ServiceDeps } from '../services/service-deps.js';
import { registerAccessControl } from '../security/access-control.js';
import { RevocationList } from '../security/accounts/revocations.js';
import type { SigningKey } from '../security/embedded-idp.js';
import type { Principal } from '../security/principal.js';
import { registerRateLimits } from '../security/rate-limit.js';
import { LegitimateRelationships } from '../security/relationships.js';
import { TokenVerifier } from '../security/token-verifier.js';
import { createBus, createScheduler } from '../messaging/create-bus.js';
import { registerMessaging } from '../messaging/fastify-messaging.js';
import type { JobScheduler, MessageBus } from '../messaging/types.js';
import type { Repository } from '../store/repository.js';
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
  | 'webSessionIdleSeconds'
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
  /**
   * The message bus (app.bus); by default the one config.messaging names, over repo's outbox.
   * Started on ready, stopped on close.
   */
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
    // a route schema that refuses (PDS's trace query) names every fault at once, as PDS does; the
    // other schemas only describe, so nothing else is refused by them
    ajv: { customOptions: { allErrors: true } },
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
  const messageBus = bus ?? (await createBus(config, repo, messagingLog));
  const jobs = scheduler ?? createScheduler(config, repo, messagingLog);
  registerMessaging(app, messageBus, jobs);
  registerFhirConventions(app);
  registerSearchsetSelfLinks(app, config.publicUrl);
  registerLocationRelease(app, new LocationRelease(repo));
  registerAccessControl(app, { verifier, revocations, relationships, benchmarkPrincipal });
  await registerRateLimits(app, config.rateLimit);
  registerFailureAudit(app, auditWriter);

  // every service gets the same deps and mounts itself under its own base path (src/services/*/plugin.ts)
  const deps: ServiceDeps = {
    store: repo,
    audit: auditWriter,
    bus: messageBus,
    scheduler: jobs,
    publicUrl: config.publicUrl,
    signingKey,
    config,
    relationships,
    revocations,
    startedAt: new Date(),
  };
  for (const service of [
    identityPlugin,
    healthPlugin,
    pdsPlugin,
    scrPlugin,
    securityPlugin,
    directoryPlugin,
    epsPlugin,
    gp2gpPlugin,
    referralsPlugin,
    notificationsPlugin,
    messagingPlugin,
    bulkPlugin,
    webPlugin,
  ])
    await app.register(service, deps);
  if (extraRoutes) await app.register(async (scope) => extraRoutes(scope));
  return app;
}
