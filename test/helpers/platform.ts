import { randomUUID } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { loadConfig, type Config } from '../../src/config.js';
import { buildApp } from '../../src/http/app.js';
import {
  loadOrCreateSigningKey,
  mintToken,
  type SigningKey,
} from '../../src/security/embedded-idp.js';
import { openRepository } from '../../src/store/open.js';
import type { Repository } from '../../src/store/repository.js';
import type { JobScheduler, MessageBus } from '../../src/messaging/types.js';
import { isolatedStoreConfig, type StoreKind } from './stores.js';

export const PDS = '/personal-demographics/FHIR/R4';

/**
 * A whole platform in-process on an isolated store, driven through Fastify's inject (real routing,
 * hooks, serialisation).
 */
export interface TestPlatform {
  app: FastifyInstance;
  repo: Repository;
  key: SigningKey;
  dataDir: string;
  config: Config;
  /** The platform's message bus (embedded, polling every 20 ms unless configured otherwise); started with the app. */
  bus: MessageBus;
  scheduler: JobScheduler;
  token(
    role?: string,
    opts?: { user?: string; org?: string; ttlSeconds?: number },
  ): Promise<string>;
  /** A request with a fresh X-Request-ID and, unless `token: null`, an R8000 bearer token. */
  request(opts: {
    method?: string;
    url: string;
    token?: string | null;
    headers?: Record<string, string>;
    body?: unknown;
    contentType?: string;
  }): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export interface TestPlatformOptions {
  /** Configuration overrides (rate limits, cache times...). */
  config?: Partial<Config>;
  /** Probe routes registered with the platform's hooks in force. */
  extraRoutes?: (app: FastifyInstance) => void | Promise<void>;
}

export async function startTestPlatform(
  kind: StoreKind,
  options: TestPlatformOptions = {},
): Promise<TestPlatform> {
  const { config: storeConfig, cleanup } = await isolatedStoreConfig(kind);
  const config: Config = {
    ...loadConfig({}, {}),
    messagePollMs: 20,
    ...storeConfig,
    ...options.config,
  };
  const repo = await openRepository(config);
  const key = await loadOrCreateSigningKey(config.dataDir);
  const app = await buildApp({
    config,
    repo,
    signingKey: key,
    logger: false,
    extraRoutes: options.extraRoutes,
  });
  await app.ready();
  const tokens = new Map<string, string>();
  const platform: TestPlatform = {
    app,
    repo,
    key,
    dataDir: config.dataDir,
    config,
    bus: app.bus,
    scheduler: app.scheduler,
    async token(role = 'R8000', opts = {}) {
      return mintToken(key, {
        userId: opts.user ?? `user-${role}`,
        role,
        org: opts.org ?? 'A81001',
        audience: config.audience,
        ttlSeconds: opts.ttlSeconds,
      });
    },
    async request({ method = 'GET', url, token, headers = {}, body, contentType }) {
      let bearer = token;
      if (bearer === undefined) {
        bearer = tokens.get('R8000') ?? (await platform.token('R8000'));
        tokens.set('R8000', bearer);
      }
      const all: Record<string, string> = { 'x-request-id': randomUUID(), ...headers };
      if (bearer) all.authorization = `Bearer ${bearer}`;
      if (body !== undefined) all['content-type'] = contentType ?? 'application/fhir+json';
      return app.inject({
        method: method as 'GET',
        url,
        headers: all,
        payload:
          body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
    },
    async close() {
      await app.close();
      await repo.close();
      await cleanup();
    },
  };
  return platform;
}

/** The Spine error code of an OperationOutcome response. */
export function spineCode(res: LightMyRequestResponse): string | undefined {
  return res.json()?.issue?.[0]?.details?.coding?.[0]?.code;
}
