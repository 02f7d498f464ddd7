import { hostname } from 'node:os';
import { resolve } from 'node:path';

/**
 * The one typed configuration object. Precedence: command-line flags > environment > defaults.
 * Nothing else in the codebase reads process.env.
 */
export interface Config {
  dataDir: string;
  port: number;
  host: string;
  store: 'sqlite' | 'postgres';
  databaseUrl: string;
  /** PostgreSQL schema to use (tests give each run its own). */
  databaseSchema: string;
  logLevel: string;
  /** Public base URL used as the token issuer and in links. */
  publicUrl: string;
  /** An external OIDC issuer whose tokens are accepted beside the embedded one. */
  externalIssuer: { issuer: string; jwksUrl: string; audience: string } | null;
  /** Audience embedded tokens are minted for and checked against. */
  audience: string;
  /** Demo patients seeded on first start by `serve --demo`. */
  demoPatients: number;
  bodyLimitBytes: number;
  /** How long a node trusts its cached answer from the revocation list (session lock) before asking the store again. */
  revocationCacheMs: number;
  /** Lifetime of access tokens issued by the sign-in flow and client credentials. */
  accessTokenSeconds: number;
  /** The web application signs a person out after this long without a page request (smartcard idle lock). */
  webSessionIdleSeconds: number;
  /** Requests per minute allowed to one user (or patient) and to one application, per node; 0 turns a limit off. */
  rateLimit: { userPerMinute: number; applicationPerMinute: number };
  /** How often the server signs the audit chain head with its key (0: never in the background). */
  auditCheckpointSeconds: number;
  /** Message bus: 'embedded' (the outbox in the store, polled) or 'nats' (JetStream, for several nodes). */
  messaging: 'embedded' | 'nats';
  natsUrl: string;
  /** JetStream stream name; subjects are '<stream in lower case>.<partition>.<topic>' (tests give each run its own). */
  natsStream: string;
  /** This node's name in leases and delivery claims. */
  nodeId: string;
  /** How often the embedded bus polls the store for messages committed by other processes or due for retry. */
  messagePollMs: number;
  /**
   * Prometheus metrics at GET /metrics (src/observability/): on by default; `--metrics off` turns
   * collection off. The route is never open: the operations role, or the scrape token when set.
   */
  metrics: { enabled: boolean; scrapeToken: string | null };
  /**
   * OpenTelemetry tracing: off unless an OTLP/HTTP traces endpoint is configured
   * (`--otlp-url`, OPENSPINE_OTLP_URL or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT).
   */
  tracing: { otlpUrl: string | null; sampleRatio: number; serviceName: string };
  /** On SIGTERM: how long in-flight requests and deliveries may take to finish before the node exits. */
  drainSeconds: number;
  /**
   * On SIGTERM, before the drain: how long the node keeps serving (and accepting connections) while
   * /_status/ready already answers 503, so a load balancer notices before the listener closes.
   */
  drainDelaySeconds: number;
}

export type Flags = Record<string, string | boolean | undefined>;

function pick(flag: string | boolean | undefined, env: string | undefined): string | undefined {
  if (typeof flag === 'string') return flag;
  return env === '' ? undefined : env;
}

function ratioOf(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1)
    throw new Error(`${name} must be a number from 0 to 1, got '${value}'`);
  return n;
}

function intOf(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`${name} must be a whole number, got '${value}'`);
  return n;
}

export function loadConfig(flags: Flags = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const port = intOf(pick(flags.port, env.PORT ?? env.OPENSPINE_PORT), 8080, '--port');
  const host = pick(flags.host, env.OPENSPINE_HOST) ?? '127.0.0.1';
  const store = pick(flags.store, env.OPENSPINE_STORE) ?? 'sqlite';
  if (store !== 'sqlite' && store !== 'postgres')
    throw new Error(`--store must be sqlite or postgres, got '${store}'`);
  const issuer = pick(flags['external-issuer'], env.OPENSPINE_EXTERNAL_ISSUER);
  const jwksUrl = pick(flags['external-jwks-url'], env.OPENSPINE_EXTERNAL_JWKS_URL);
  if ((issuer && !jwksUrl) || (!issuer && jwksUrl))
    throw new Error('an external issuer needs both --external-issuer and --external-jwks-url');
  const messaging = pick(flags.messaging, env.OPENSPINE_MESSAGING) ?? 'embedded';
  if (messaging !== 'embedded' && messaging !== 'nats')
    throw new Error(`--messaging must be embedded or nats, got '${messaging}'`);
  const natsStream = pick(flags['nats-stream'], env.OPENSPINE_NATS_STREAM) ?? 'OPENSPINE';
  if (!/^[A-Za-z0-9_-]+$/.test(natsStream))
    throw new Error(`--nats-stream must be letters, digits, _ or -, got '${natsStream}'`);
  const metrics = pick(flags.metrics, env.OPENSPINE_METRICS) ?? 'on';
  if (metrics !== 'on' && metrics !== 'off')
    throw new Error(`--metrics must be on or off, got '${metrics}'`);
  const publicUrl =
    pick(flags['public-url'], env.OPENSPINE_PUBLIC_URL) ??
    `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  return {
    dataDir: resolve(pick(flags.data, env.OPENSPINE_DATA) ?? './data'),
    port,
    host,
    store,
    databaseUrl:
      pick(flags['database-url'], env.DATABASE_URL) ?? 'postgres://postgres@127.0.0.1:5432/test',
    databaseSchema: pick(flags['database-schema'], env.OPENSPINE_DATABASE_SCHEMA) ?? 'public',
    logLevel: pick(flags['log-level'], env.LOG_LEVEL) ?? 'info',
    publicUrl,
    externalIssuer:
      issuer && jwksUrl
        ? {
            issuer,
            jwksUrl,
            audience:
              pick(flags['external-audience'], env.OPENSPINE_EXTERNAL_AUDIENCE) ?? 'openspine',
          }
        : null,
    audience: 'openspine',
    demoPatients: intOf(
      pick(flags['demo-patients'], env.OPENSPINE_DEMO_PATIENTS),
      10_000,
      '--demo-patients',
    ),
    bodyLimitBytes: intOf(
      pick(flags['body-limit'], env.OPENSPINE_BODY_LIMIT),
      1_048_576,
      '--body-limit',
    ),
    revocationCacheMs: intOf(
      pick(flags['revocation-cache-ms'], env.OPENSPINE_REVOCATION_CACHE_MS),
      1000,
      '--revocation-cache-ms',
    ),
    accessTokenSeconds: intOf(
      pick(flags['access-token-seconds'], env.OPENSPINE_ACCESS_TOKEN_SECONDS),
      900,
      '--access-token-seconds',
    ),
    webSessionIdleSeconds: intOf(
      pick(flags['web-session-idle-seconds'], env.OPENSPINE_WEB_SESSION_IDLE_SECONDS),
      900,
      '--web-session-idle-seconds',
    ),
    rateLimit: {
      userPerMinute: intOf(
        pick(flags['rate-limit-user'], env.OPENSPINE_RATE_LIMIT_USER),
        6000,
        '--rate-limit-user',
      ),
      applicationPerMinute: intOf(
        pick(flags['rate-limit-app'], env.OPENSPINE_RATE_LIMIT_APP),
        18_000,
        '--rate-limit-app',
      ),
    },
    auditCheckpointSeconds: intOf(
      pick(flags['audit-checkpoint-seconds'], env.OPENSPINE_AUDIT_CHECKPOINT_SECONDS),
      60,
      '--audit-checkpoint-seconds',
    ),
    messaging,
    natsUrl: pick(flags['nats-url'], env.OPENSPINE_NATS_URL) ?? 'nats://127.0.0.1:4222',
    natsStream,
    nodeId: pick(flags['node-id'], env.OPENSPINE_NODE_ID) ?? `${hostname()}-${process.pid}`,
    messagePollMs: Math.max(
      1,
      intOf(
        pick(flags['message-poll-ms'], env.OPENSPINE_MESSAGE_POLL_MS),
        100,
        '--message-poll-ms',
      ),
    ),
    metrics: {
      enabled: metrics === 'on',
      scrapeToken: pick(flags['metrics-token'], env.OPENSPINE_METRICS_TOKEN) ?? null,
    },
    tracing: {
      otlpUrl:
        pick(flags['otlp-url'], env.OPENSPINE_OTLP_URL ?? env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) ??
        null,
      sampleRatio: ratioOf(
        pick(flags['trace-sample-ratio'], env.OPENSPINE_TRACE_SAMPLE_RATIO),
        1,
        '--trace-sample-ratio',
      ),
      serviceName: pick(flags['service-name'], env.OTEL_SERVICE_NAME) ?? 'openspine',
    },
    drainSeconds: intOf(
      pick(flags['drain-seconds'], env.OPENSPINE_DRAIN_SECONDS),
      10,
      '--drain-seconds',
    ),
    drainDelaySeconds: intOf(
      pick(flags['drain-delay-seconds'], env.OPENSPINE_DRAIN_DELAY_SECONDS),
      0,
      '--drain-delay-seconds',
    ),
  };
}
