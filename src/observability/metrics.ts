/**
 * The platform's Prometheus metrics (docs/operations.md lists them): one Registry per app, never
 * prom-client's global one, because tests build several apps in one process. The request path only
 * increments cached label children (metrics-http.ts); what needs the store is read at scrape time
 * (metrics-scrape.ts). With `--metrics off` buildApp makes no PlatformMetrics at all.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { buildVersion, processRegistry } from './metrics-process.js';
import { refreshScrapeGauges, type ScrapeSources } from './metrics-scrape.js';

export type { ScrapeSources } from './metrics-scrape.js';

/** Why a sign-in failed (a closed set: the label's values). */
export type SignInFailureReason = 'malformed' | 'wrong_credentials' | 'revoked' | 'locked';
const SIGN_IN_FAILURE_REASONS: SignInFailureReason[] = [
  'malformed',
  'wrong_credentials',
  'revoked',
  'locked',
];

/** Security events the metrics count; the services report them without knowing of Prometheus. */
export interface SecuritySignals {
  signInFailed(reason: SignInFailureReason): void;
  /** An account reached the sign-in failure limit and is locked for the throttle's window. */
  lockedOut(): void;
  /** An emergency-access (break-glass) grant was recorded. */
  breakGlass(): void;
}

/** Latency buckets (seconds) for requests and commits. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const BATCH_SIZE_BUCKETS = [1, 2, 3, 5, 10, 25, 50, 100, 250, 500, 1000];

export class PlatformMetrics implements SecuritySignals {
  readonly registry = new Registry();
  /** What the scrape reads (set by the operations service). */
  private sources: ScrapeSources | undefined;
  /** The scrape-time read under way: scrapes arriving meanwhile share it (one store round at a time). */
  private refreshing: Promise<void> | undefined;

  readonly httpRequests = new Counter({
    name: 'openspine_http_requests_total',
    help: 'HTTP requests answered, by route pattern, method and status class',
    labelNames: ['route', 'method', 'status_class'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'openspine_http_request_duration_seconds',
    help: 'HTTP request latency (arrival to response sent), by route pattern, method and status class',
    labelNames: ['route', 'method', 'status_class'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly inFlight = new Gauge({
    name: 'openspine_http_requests_in_flight',
    help: 'HTTP requests being handled',
    registers: [this.registry],
  });
  readonly openConnections = new Gauge({
    name: 'openspine_http_open_connections',
    help: 'Open TCP connections of the HTTP server',
    registers: [this.registry],
  });
  private readonly commitDuration = new Histogram({
    name: 'openspine_store_commit_duration_seconds',
    help: 'Time of one store commit (WriteBatch), group-commit queueing included',
    labelNames: ['store'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly commitBatchSize = new Histogram({
    name: 'openspine_store_commit_batch_size',
    help: 'Resources + outbox messages + audit records in one committed batch',
    labelNames: ['store'] as const,
    buckets: BATCH_SIZE_BUCKETS,
    registers: [this.registry],
  });
  private readonly deliveries = new Counter({
    name: 'openspine_bus_deliveries_total',
    help: 'Message deliveries on this node, by consumer and outcome (done, retry, dead)',
    labelNames: ['consumer', 'outcome'] as const,
    registers: [this.registry],
  });
  private readonly deliveryRetries = new Counter({
    name: 'openspine_bus_delivery_retries_total',
    help: 'Deliveries on this node that failed and will be retried, by consumer',
    labelNames: ['consumer'] as const,
    registers: [this.registry],
  });
  private readonly signInFailures = new Counter({
    name: 'openspine_signin_failures_total',
    help: 'Failed sign-ins, by reason (malformed, wrong_credentials, revoked, locked)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  private readonly lockouts = new Counter({
    name: 'openspine_signin_lockouts_total',
    help: 'Accounts locked (on this node) after repeated sign-in failures',
    registers: [this.registry],
  });
  private readonly breakGlassUses = new Counter({
    name: 'openspine_break_glass_total',
    help: 'Emergency-access (break-glass) grants recorded through this node',
    registers: [this.registry],
  });
  /** The gauges the scrape fills from the store and the bus (metrics-scrape.ts). */
  readonly scraped = {
    groupCommitQueue: this.gauge(
      'openspine_store_group_commit_queue',
      'Batches waiting for a group commit',
      ['store'],
    ),
    outboxDepth: this.gauge(
      'openspine_outbox_depth',
      'Outbox messages not yet relayed (NATS) / not yet read by every consumer (embedded)',
    ),
    relayLag: this.gauge(
      'openspine_outbox_relay_lag_seconds',
      'Age of the oldest outbox message not yet relayed (NATS) / delivered (embedded); 0 when none',
    ),
    consumerLag: this.gauge(
      'openspine_bus_consumer_lag_messages',
      'Messages this consumer has still to finish',
      ['consumer'],
    ),
    deadLetters: this.gauge('openspine_bus_dead_letters', 'Dead letters not replayed', [
      'consumer',
    ]),
    auditChainLength: this.gauge(
      'openspine_audit_chain_length',
      'Audit chain head sequence number',
    ),
    checkpointAge: this.gauge(
      'openspine_audit_checkpoint_age_seconds',
      'Age of the newest signed audit checkpoint (-1 when none)',
    ),
    pgPool: this.gauge(
      'openspine_pg_pool_connections',
      'PostgreSQL pool connections by state (total, idle, waiting); absent on SQLite',
      ['state'],
    ),
    diskFree: this.gauge(
      'openspine_data_disk_free_bytes',
      'Free bytes on the filesystem of the data directory',
    ),
    diskSize: this.gauge(
      'openspine_data_disk_size_bytes',
      'Size of the filesystem of the data directory',
    ),
    storeSize: this.gauge(
      'openspine_store_size_bytes',
      'Size of the store (SQLite file + WAL, or pg_database_size)',
      ['store'],
    ),
    ready: this.gauge('openspine_ready', '1 when /_status/ready passes, 0 otherwise'),
    draining: this.gauge('openspine_draining', '1 while the node drains after SIGTERM'),
  };

  constructor() {
    new Gauge({
      name: 'openspine_build_info',
      help: 'Always 1: the running version and Node.js version',
      labelNames: ['version', 'node_version'] as const,
      registers: [this.registry],
    }).set({ version: buildVersion(), node_version: process.version }, 1);
    // known reasons start at 0, so rate() sees the first failure
    for (const reason of SIGN_IN_FAILURE_REASONS) this.signInFailures.labels(reason).inc(0);
  }

  private gauge(name: string, help: string, labelNames: string[] = []): Gauge {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  /** What the scrape reads from the store and the bus (set by the operations service). */
  scrapeFrom(sources: ScrapeSources): void {
    this.sources = sources;
  }

  /** A store's commit observer (src/store/store-metrics.ts CommitObserver, by shape). */
  commitObserver(store: string) {
    const duration = this.commitDuration.labels(store);
    const size = this.commitBatchSize.labels(store);
    return {
      committed(durationSeconds: number, batchSize: number): void {
        duration.observe(durationSeconds);
        size.observe(batchSize);
      },
    };
  }

  /** A bus's delivery observer (src/messaging/types.ts DeliveryObserver, by shape). */
  readonly deliveryObserver = {
    delivered: (consumer: string, outcome: 'done' | 'retry' | 'dead'): void => {
      this.deliveries.labels(consumer, outcome).inc();
      if (outcome === 'retry') this.deliveryRetries.labels(consumer).inc();
    },
  };

  signInFailed(reason: SignInFailureReason): void {
    this.signInFailures.labels(reason).inc();
  }

  lockedOut(): void {
    this.lockouts.inc();
  }

  breakGlass(): void {
    this.breakGlassUses.inc();
  }

  /** The Prometheus text exposition: the scrape-time gauges are read first. */
  async render(): Promise<{ contentType: string; body: string }> {
    const sources = this.sources;
    if (sources)
      await (this.refreshing ??= refreshScrapeGauges(this.scraped, sources).finally(() => {
        this.refreshing = undefined;
      }));
    const merged = Registry.merge([this.registry, processRegistry()]);
    return { contentType: this.registry.contentType, body: await merged.metrics() };
  }
}
