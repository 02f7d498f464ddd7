import type { FastifyPluginAsync } from 'fastify';
import type { AuditWriter } from '../audit/audit-writer.js';
import type { Config } from '../config.js';
import type { JobScheduler, MessageBus } from '../messaging/types.js';
import type { Readiness } from '../observability/readiness.js';
import type { RevocationList } from '../security/accounts/revocations.js';
import type { SigningKey } from '../security/embedded-idp.js';
import type { LegitimateRelationships } from '../security/relationships.js';
import type { Repository } from '../store/repository.js';
import type { PlatformMetrics } from '../observability/metrics.js';

/** The settings a service may read (a slice of Config, so services do not depend on all of it). */
export type ServiceConfig = Pick<
  Config,
  | 'publicUrl'
  | 'audience'
  | 'accessTokenSeconds'
  | 'auditCheckpointSeconds'
  | 'webSessionIdleSeconds'
  | 'metrics'
  | 'dataDir'
>;

/**
 * What the platform hands every service: one object, built once per process in src/http/app.ts
 * (buildApp) and passed to each service's plugin.ts as its Fastify options. A service takes what it
 * needs from here and builds its own use cases, route tables, bus consumers and jobs from it.
 */
export interface ServiceDeps {
  /** The store (resources, request log, audit chain, outbox). Only use cases commit to it. */
  store: Repository;
  /** The one read-audit group committer of the process (writes put their audit in their own batch). */
  audit: AuditWriter;
  /** The message bus: register consumers on it while the plugin runs (before the app is ready). */
  bus: MessageBus;
  /** Cluster-wide jobs (one node runs each): register with every() while the plugin runs. */
  scheduler: JobScheduler;
  /** The platform's public base URL (no trailing slash); a service appends its base path. */
  publicUrl: string;
  /** The embedded identity provider's key (token signing, signed audit checkpoints, webhook signatures). */
  signingKey: SigningKey;
  config: ServiceConfig;
  /** Legitimate relationships (the security service manages them). */
  relationships: LegitimateRelationships;
  /** Revoked sessions and accounts (the identity service revokes). */
  revocations: RevocationList;
  /** When the process started (the health service reports uptime). */
  startedAt: Date;
  /** Whether this node should get traffic (GET /_status/ready): register a check with add() or watchJob(). */
  readiness: Readiness;
  /**
   * The app's Prometheus metrics (src/observability/metrics.ts; GET /metrics), null with
   * `--metrics off`. Services report security events on it (sign-in failures, break-glass).
   */
  metrics: PlatformMetrics | null;
}

/**
 * The one plugin signature: every src/services/<svc>/plugin.ts exports a plugin of this type. It
 * mounts the service's route table(s) under the service's base path and registers its bus
 * consumers and scheduled jobs. src/http/app.ts registers each with `app.register(plugin, deps)`.
 */
export type ServicePlugin = FastifyPluginAsync<ServiceDeps>;
