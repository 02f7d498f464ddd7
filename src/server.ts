import type { FastifyInstance } from 'fastify';
import { createServer, type AddressInfo } from 'node:net';
import type { Config } from './config.js';
import { buildApp } from './http/app.js';
import { ConnectionDrain, drainApp } from './http/drain.js';
import { loadOrCreateSigningKey, mintToken } from './security/embedded-idp.js';
import { seedPatients } from './seed/seed-patients.js';
import {
  demoBanner,
  seedDemoPatients,
  seedDemoWorkday,
  type DemoWorkday,
} from './seed/demo/index.js';
import { ensureDemoIdentity } from './services/identity/index.js';
import { seedDirectory } from './services/directory/index.js';
import { PDS_BASE } from './services/pds/index.js';
import { publishDemoSlots } from './services/referrals/index.js';
import { startTracing } from './observability/tracing.js';
import { bulkTargetOf, openRepository, sqliteFileOf } from './store/open.js';
import type { Repository } from './store/repository.js';

export interface RunningServer {
  app: FastifyInstance;
  repo: Repository;
  url: string;
  close(): Promise<void>;
}

/** A free TCP port on the host, so that a `--port 0` server knows its own URL before it listens. */
async function freePort(host: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolvePort(port));
    });
  });
}

/** Opens the store, seeds demo data when asked and the store is empty, and starts listening. */
export async function startServer(
  requested: Config,
  opts: { demo?: boolean; log?: (line: string) => void } = {},
): Promise<RunningServer> {
  let config = requested;
  if (config.port === 0) {
    const port = await freePort(config.host);
    // links (fullUrl, Location) carry the real port unless an explicit public URL was configured
    config = { ...config, port, publicUrl: config.publicUrl.replace(/:0$/, `:${port}`) };
  }
  const log = opts.log ?? ((line: string) => process.stdout.write(line + '\n'));
  // process-wide and off unless --otlp-url is set (src/observability/tracing.ts)
  const stopTracing = await startTracing(config.tracing, config.nodeId);
  const repo = await openRepository(config);
  repo.startBackgroundWork?.();
  const signingKey = await loadOrCreateSigningKey(config.dataDir);
  let demoPatient: string | undefined;
  if (opts.demo && (await repo.count('Patient')) === 0) {
    log(
      `First start: seeding ${config.demoPatients.toLocaleString('en-GB')} demo patients into the ${repo.kind} store...`,
    );
    const result = await seedPatients(repo, {
      patients: config.demoPatients,
      seed: 1,
      progress: process.stderr.isTTY,
      bulk: bulkTargetOf(config),
    });
    demoPatient = result.firstNhsNumber;
    log(`Seeded ${result.created} patients in ${result.seconds.toFixed(1)} s`);
  }
  if (opts.demo) await seedDirectory(repo, 1); // the directory the demo patients' GP and pharmacy codes point at
  if (opts.demo) await publishDemoSlots(repo); // e-RS slots for the directly bookable demo clinics
  if (opts.demo) await seedDemoPatients(repo, 1, sqliteFileOf(config)); // the demo GP practice's patients
  const signInHint = opts.demo ? await ensureDemoIdentity(repo, config.publicUrl) : undefined;
  const app = await buildApp({ config, repo, signingKey });
  let workday: DemoWorkday | undefined;
  if (opts.demo) {
    // a working day for each demo user, through the platform's own APIs (src/seed/demo/)
    try {
      const made = await seedDemoWorkday({ app, repo, key: signingKey, config });
      workday = made.workday;
      if (made.created) log(`Demo working day seeded in ${made.seconds.toFixed(1)} s`);
    } catch (err) {
      log(
        `Demo working day not seeded (the platform serves without it): ${(err as Error).message}`,
      );
    }
  }
  const connections = new ConnectionDrain(app.server);
  const shutdown = async () => {
    // graceful: not ready at once, in-flight requests and deliveries finish (src/http/drain.ts)
    await drainApp(app, connections, {
      readiness: app.readiness,
      delayMs: config.drainDelaySeconds * 1000,
    });
    await repo.close(); // flushes group commits
    await stopTracing(); // flushes the spans of the last requests
  };
  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;
  if (opts.demo) {
    const token = await mintToken(signingKey, {
      userId: 'demo-clinician',
      role: 'R8000',
      org: 'A81001',
      audience: config.audience,
    });
    const nhs =
      demoPatient ??
      (
        await repo.search({
          type: 'Patient',
          criteria: [{ any: [{ param: 'identifier', op: 'prefix', value: '999' }] }],
          limit: 1,
        })
      )[0];
    log(
      `OpenSpine is serving on ${url} (store: ${repo.kind}, messaging: ${app.bus.kind}, data: ${config.store === 'sqlite' ? config.dataDir : 'postgres'})`,
    );
    log(`PDS: ${url}${PDS_BASE}   health: ${url}/_status`);
    log('Try (token valid 12 hours, role R8000 at A81001):');
    log(
      `curl -s -H "Authorization: Bearer ${token}" -H "X-Request-ID: $(cat /proc/sys/kernel/random/uuid)" ${url}${PDS_BASE}/Patient/${nhs ?? '9990000018'}`,
    );
    log(signInHint!);
    for (const line of await demoBanner(repo, url, workday)) log(line);
  }
  return { app, repo, url, close: shutdown };
}
