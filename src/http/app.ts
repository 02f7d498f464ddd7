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
import { registerServerSpans } from '../observability/tracing-http.js';
import { traceLogMixin } from '../observability/tracing-spans.js';
import { Readiness } from '../observability/readiness.js';
import { PlatformMetrics } from '../observability/metrics.js';
import { registerMetrics } from '../observability/metrics-wiring.js';
import { operationsPlugin } from '../services/operations/plugin.js';
import '../context.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Whether this node should get traffic (GET /_status/ready); draining starts on SIGTERM. */
    readiness: Readiness;
  }
}

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
  | 'metrics'
  | 'dataDir'
  | 'tracing'
  | 'drainSeconds'
>;

export interface AppDeps {
  config: AppConfig;
  repo: Repository;
  signingKey: SigningKey;
  logger?: boolean;
  /** Where log lines go (default stdout); tests read them. */
  logStream?: { write(line: string): void };
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
  logStream,
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
    logger: logger
      ? {
          level: config.logLevel,
          ...(logStream ? { stream: logStream } : {}),
          // with tracing on, every log line written during a traced request or delivery names its trace
          ...(config.tracing?.otlpUrl ? { mixin: traceLogMixin } : {}),
        }
      : false,
    // per-request access lines would dominate the log at national volumes; errors are still logged
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimitBytes,
    // while closing, fhir-conventions answers 503 with an OperationOutcome (Fastify's own is a bare JSON body)
    return503OnClosing: false,
  });
  const verifier = new TokenVerifier({
    embeddedPublicJwk: signingKey.publicJwk,
    nextPublicJwk: signingKey.next?.publicJwk,
    retiredKeys: signingKey.retired,
    embeddedIssuers: [oidcIssuer(config.publicUrl)],
    audience: config.audience,
    external: config.externalIssuer,
  });
  const revocations = new RevocationList(repo, config.revocationCacheMs);
  const relationships = new LegitimateRelationships(repo);

  const messagingLog = (message: string, err?: unknown) => app.log.warn({ err }, message);
  const messageBus = bus ?? (await createBus(config, repo, messagingLog));
  const jobs = scheduler ?? createScheduler(config, repo, messagingLog);
  // the request's server span first, so every later hook runs inside it
  if (config.tracing?.otlpUrl) registerServerSpans(app, config.nodeId);
  // Prometheus metrics (GET /metrics); with --metrics off nothing is collected and no hook registered
  const metrics = config.metrics?.enabled ? new PlatformMetrics() : null;
  if (metrics) registerMetrics(app, metrics, repo, messageBus);
  registerMessaging(app, messageBus, jobs);
  const readiness = new Readiness();
  app.decorate('readiness', readiness);
  registerFhirConventions(app, () => readiness.refusingRequests);
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
    readiness,
    metrics,
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
    operationsPlugin,
  ])
    await app.register(service, deps);
  if (extraRoutes) await app.register(async (scope) => extraRoutes(scope));
  return app;
}
