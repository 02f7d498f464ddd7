/**
 * Liveness and readiness (GET /_status/live, GET /_status/ready): both pass on a running platform;
 * readiness fails, naming the check, while the node drains, when the audit checkpoint signer is
 * stopped, when the store's schema is behind the code, when PostgreSQL is stopped and when NATS is,
 * and passes again once they are back. The shared PostgreSQL and NATS servers are never stopped:
 * the outages are of a private cluster (test/helpers/own-postgres.ts) and a private nats-server.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import pg from 'pg';
import { join } from 'node:path';
import { PeriodicJob } from '../src/audit/audit-indexer.js';
import { startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest, type StoreKind } from './helpers/stores.js';
import { deleteStream, OwnNatsServer, testStreamName } from './helpers/nats-server.js';
import { OwnPostgres } from './helpers/own-postgres.js';

const kinds = await storesUnderTest();

async function ready(platform: TestPlatform) {
  const res = await platform.app.inject({ method: 'GET', url: '/_status/ready' });
  return { status: res.statusCode, body: res.json(), headers: res.headers };
}

/** Polls /_status/ready until it answers `status` (the outage or recovery takes effect). */
async function readyBecomes(platform: TestPlatform, status: 200 | 503, what: string) {
  const deadline = Date.now() + 30_000;
  let last = await ready(platform);
  while (last.status !== status) {
    if (Date.now() > deadline)
      throw new Error(
        `/_status/ready did not become ${status} ${what}: ${JSON.stringify(last.body)}`,
      );
    await new Promise((r) => setTimeout(r, 50));
    last = await ready(platform);
  }
  return last;
}

const failing = (body: any) =>
  Object.entries(body.checks as Record<string, { status: string }>)
    .filter(([, c]) => c.status === 'fail')
    .map(([name]) => name);

for (const kind of kinds) {
  describe(`health on ${kind}`, () => {
    let platform: TestPlatform;
    before(async () => {
      platform = await startTestPlatform(kind, { config: { auditCheckpointSeconds: 60 } });
    });
    after(() => platform.close());

    it('/_status/live passes without a token', async () => {
      const res = await platform.app.inject({ method: 'GET', url: '/_status/live' });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json(), { status: 'pass' });
    });

    it('/_status/ready passes, every check named, without a token', async () => {
      const { status, body, headers } = await ready(platform);
      assert.equal(status, 200, JSON.stringify(body));
      assert.equal(body.status, 'pass');
      assert.deepEqual(Object.keys(body.checks), [
        'store',
        'migrations',
        'bus',
        'signer',
        'draining',
      ]);
      for (const [name, check] of Object.entries<any>(body.checks)) {
        assert.equal(check.status, 'pass', `${name}: ${JSON.stringify(check)}`);
        assert.equal(typeof check.reason, 'string');
      }
      assert.equal(body.checks.migrations.applied, body.checks.migrations.latest);
      assert.ok(body.checks.migrations.latest > 0);
      assert.equal(headers['cache-control'], 'no-store');
    });

    it('/_ping and /_status answer as before', async () => {
      const ping = await platform.app.inject({ method: 'GET', url: '/_ping' });
      assert.deepEqual(ping.json(), { status: 'pass', ping: 'pong' });
      const status = await platform.app.inject({ method: 'GET', url: '/_status' });
      assert.equal(status.statusCode, 200);
      assert.equal(status.json().store, kind);
    });

    it('ready fails (503, naming signer) once the checkpoint signer is stopped', async () => {
      const job = platform.app.readiness.job('signer');
      assert.ok(job instanceof PeriodicJob, 'the signer is a watched periodic job');
      await job.stop();
      const { status, body } = await ready(platform);
      assert.equal(status, 503);
      assert.equal(body.status, 'fail');
      assert.deepEqual(failing(body), ['signer']);
      assert.equal(body.checks.signer.reason, 'stopped');
      job.start();
      assert.equal((await ready(platform)).status, 200);
    });

    it('ready fails (503, naming draining) once the node drains, and live still passes', async () => {
      platform.app.readiness.startDraining();
      const { status, body } = await ready(platform);
      assert.equal(status, 503);
      assert.deepEqual(failing(body), ['draining']);
      assert.equal(typeof body.checks.draining.since, 'string');
      const live = await platform.app.inject({ method: 'GET', url: '/_status/live' });
      assert.equal(live.statusCode, 200);
    });

    it("the drain's refusing step answers every request 503 with Connection: close", async () => {
      platform.app.readiness.refuseRequests();
      for (const url of [
        '/_status/live',
        '/_status/ready',
        `/personal-demographics/FHIR/R4/metadata`,
      ]) {
        const res = await platform.app.inject({ method: 'GET', url });
        assert.equal(res.statusCode, 503, url);
        assert.equal(res.headers.connection, 'close', url);
        assert.equal(res.json().resourceType, 'OperationOutcome', url);
      }
    });
  });

  describe(`readiness details on ${kind}`, () => {
    it('a signer configured off (auditCheckpointSeconds 0) is reported off, not failed', async () => {
      const platform = await startTestPlatform(kind, { config: { auditCheckpointSeconds: 0 } });
      try {
        const { status, body } = await ready(platform);
        assert.equal(status, 200, JSON.stringify(body));
        assert.equal(body.checks.signer.status, 'off');
        assert.equal(platform.app.readiness.job('signer'), undefined);
      } finally {
        await platform.close();
      }
    });

    it('ready fails (naming migrations) when the store schema is behind the code', async () => {
      const platform = await startTestPlatform(kind);
      try {
        const { body } = await ready(platform);
        const latest: number = body.checks.migrations.latest;
        // the newest migration's record removed: the store now says it is one version behind
        if (kind === 'sqlite') {
          const db = new Database(join(platform.dataDir, 'openspine.db'));
          db.prepare('DELETE FROM schema_migrations WHERE version = ?').run(latest);
          db.close();
        } else {
          const client = new pg.Client({ connectionString: platform.config.databaseUrl });
          await client.connect();
          await client.query(
            `DELETE FROM ${platform.config.databaseSchema}.schema_migrations WHERE version = $1`,
            [latest],
          );
          await client.end();
        }
        const after = await ready(platform);
        assert.equal(after.status, 503);
        assert.deepEqual(failing(after.body), ['migrations']);
        assert.equal(after.body.checks.migrations.applied, latest - 1);
        assert.match(after.body.checks.migrations.reason, /not applied/);
      } finally {
        await platform.close();
      }
    });
  });
}

describe('readiness through a PostgreSQL outage', () => {
  let skip: string | undefined;
  let server: OwnPostgres | undefined;
  let platform: TestPlatform | undefined;
  before(async () => {
    skip = kinds.includes('postgres')
      ? await OwnPostgres.unavailable()
      : 'PostgreSQL not under test';
    if (skip) return;
    server = await OwnPostgres.start();
    platform = await startTestPlatform('postgres', {
      config: { databaseUrl: server.url, databaseSchema: 'public' },
    });
  });
  after(async () => {
    await platform?.close();
    await server?.close();
  });

  it('fails (naming store) while a private PostgreSQL is stopped and passes once it is back', async (t) => {
    if (skip) return t.skip(`no private PostgreSQL cluster: ${skip}`);
    assert.equal((await ready(platform!)).status, 200);
    await server!.pause();
    const down = await readyBecomes(platform!, 503, 'with PostgreSQL stopped');
    assert.ok(failing(down.body).includes('store'), JSON.stringify(down.body));
    assert.equal(down.body.checks.store.status, 'fail');
    assert.doesNotMatch(
      down.body.checks.store.reason,
      /127\.0\.0\.1|:\d{4,5}/,
      'no address in a public answer',
    );
    const live = await platform!.app.inject({ method: 'GET', url: '/_status/live' });
    assert.equal(live.statusCode, 200, 'live does not depend on the store');
    await server!.resume();
    const up = await readyBecomes(platform!, 200, 'with PostgreSQL back');
    assert.equal(up.body.checks.store.status, 'pass');
  });

  it('answers (failing, naming store) while PostgreSQL hangs, rather than hanging with it', async (t) => {
    if (skip) return t.skip(`no private PostgreSQL cluster: ${skip}`);
    await readyBecomes(platform!, 200, 'before the freeze');
    await server!.freeze();
    try {
      const { status, body } = await ready(platform!);
      assert.equal(status, 503);
      assert.ok(failing(body).includes('store'), JSON.stringify(body));
      assert.match(body.checks.store.reason, /no answer within \d+ ms/);
    } finally {
      await server!.thaw();
    }
    await readyBecomes(platform!, 200, 'after the thaw');
  });
});

describe('readiness through a NATS outage', () => {
  const kind: StoreKind = kinds[0];
  let nats: OwnNatsServer;
  let platform: TestPlatform;
  const stream = testStreamName();
  before(async () => {
    nats = await OwnNatsServer.start();
    platform = await startTestPlatform(kind, {
      config: { messaging: 'nats', natsUrl: nats.url, natsStream: stream },
    });
  });
  after(async () => {
    await platform?.close();
    await deleteStream(nats.url, stream).catch(() => {});
    await nats?.close();
  });

  it('fails (naming bus) while a private nats-server is stopped and passes once it is back', async () => {
    await readyBecomes(platform, 200, 'with NATS up');
    await nats.pause();
    const down = await readyBecomes(platform, 503, 'with NATS stopped');
    assert.deepEqual(failing(down.body), ['bus']);
    await nats.resume();
    const up = await readyBecomes(platform, 200, 'with NATS back');
    assert.equal(up.body.checks.bus.status, 'pass');
  });
});
