/**
 * OpenTelemetry tracing end to end: spans go to an in-process OTLP/HTTP receiver (POST /v1/traces,
 * the JSON the exporter sends). A PATCH with X-Correlation-ID and the caller's W3C traceparent on
 * node A changes a patient with a notification subscription; the change crosses the bus (NATS to
 * node B over PostgreSQL, the embedded bus on SQLite), is routed and delivered. The PATCH's server
 * span (a child of the caller's), its store commit,
 * the bus publish (NATS) and the deliveries share one trace, the delivery's parent chain leads back
 * to the PATCH, the audit entry, the outbox messages and a log line name the trace, and the audit
 * chain and a signed export holding traced entries verify. With tracing off nothing is exported and
 * no audit entry or outbox message carries trace context.
 *
 * Tracing is process-wide: this file starts it, and shuts it down before the tracing-off checks
 * (each test file runs in its own process: scripts/run-tests.mjs).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Patient } from 'fhir/r4.js';
import { loadConfig, type Config } from '../src/config.js';
import { buildApp } from '../src/http/app.js';
import { keysOf, verifyAuditExport } from '../src/audit/export-verifier.js';
import { createBus } from '../src/messaging/create-bus.js';
import type { MessageBus } from '../src/messaging/types.js';
import { startTracing } from '../src/observability/tracing.js';
import { loadOrCreateSigningKey, mintToken } from '../src/security/embedded-idp.js';
import { openRepository } from '../src/store/open.js';
import type { Repository } from '../src/store/repository.js';
import { deleteStream, SHARED_NATS_URL, testStreamName } from './helpers/nats-server.js';
import {
  ancestry,
  CONSUMER,
  PRODUCER,
  SERVER,
  startOtlpReceiver,
  type ReceivedSpan,
} from './helpers/otlp-receiver.js';
import {
  commitPatients,
  current,
  fixture,
  living,
  PDS,
  SPARE_NHS,
  withNhsNumber,
} from './helpers/pds-fixtures.js';
import { isolatedStoreConfig, storesUnderTest, type StoreKind } from './helpers/stores.js';

const EVENTS = '/events/FHIR/R4';
const AE = '/security/FHIR/R4/AuditEvent';
const DELIVERER = 'notifications.deliverer';

/** A subscriber's endpoint: records each POST's path; paths under /fail answer 500. */
async function startSubscriber(): Promise<{
  url: string;
  paths: string[];
  close(): Promise<void>;
}> {
  const paths: string[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      paths.push(req.url ?? '');
      res.writeHead(req.url?.startsWith('/fail') ? 500 : 200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    paths,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function waitFor(
  what: string,
  done: () => boolean | Promise<boolean>,
  limitMs = 30_000,
): Promise<void> {
  const until = Date.now() + limitMs;
  while (!(await done())) {
    if (Date.now() > until) assert.fail(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

interface Node {
  app: FastifyInstance;
  repo: Repository;
  logs: string[];
  close(): Promise<void>;
}

/**
 * One node as buildApp makes it, logging into `logs`, with a bus whose notification deliverer gives
 * up after two quick attempts (so a failing endpoint's dead-letter log line comes in test time).
 * `notifications: false` leaves the notification consumers to the other nodes.
 */
async function startNode(config: Config, { notifications = true } = {}): Promise<Node> {
  const repo = await openRepository(config);
  const signingKey = await loadOrCreateSigningKey(config.dataDir);
  const logs: string[] = [];
  const built: { app?: FastifyInstance } = {};
  // as buildApp's own: the bus logs through the app's logger
  const log = (message: string, err?: unknown) => built.app?.log.warn({ err }, message);
  const real = await createBus(config, repo, log);
  const bus: MessageBus = {
    kind: real.kind,
    consume: (options, handler) => {
      if (!notifications && options.name.startsWith('notifications.')) return;
      real.consume(
        options.name === DELIVERER ? { ...options, maxAttempts: 2, retryDelayMs: 20 } : options,
        handler,
      );
    },
    start: () => real.start(),
    stop: () => real.stop(),
    sweep: real.sweep?.bind(real),
    status: real.status?.bind(real),
    observeDeliveries: real.observeDeliveries?.bind(real),
  };
  const app = await buildApp({
    config,
    repo,
    signingKey,
    bus,
    logStream: { write: (line) => void logs.push(line) },
  });
  built.app = app;
  await app.ready();
  return {
    app,
    repo,
    logs,
    async close() {
      await app.close();
      await repo.close();
    },
  };
}

function variant(nhs: string): Patient {
  return living(current(withNhsNumber(fixture<Patient>('Patient.json'), nhs)));
}

async function tokenFor(
  config: Config,
  who = { userId: 'user-trace', role: 'R8000', org: 'A81001' },
): Promise<string> {
  const key = await loadOrCreateSigningKey(config.dataDir);
  return mintToken(key, { ...who, audience: config.audience });
}

async function get(node: Node, url: string, token: string | null) {
  return node.app.inject({
    url,
    headers: {
      'x-request-id': randomUUID(),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
  });
}

async function subscribe(node: Node, token: string, nhs: string, endpoint: string): Promise<void> {
  const res = await node.app.inject({
    method: 'POST',
    url: `${EVENTS}/Subscription`,
    headers: {
      authorization: `Bearer ${token}`,
      'x-request-id': randomUUID(),
      'content-type': 'application/fhir+json',
    },
    payload: JSON.stringify({
      resourceType: 'Subscription',
      status: 'requested',
      reason: 'tracing test',
      criteria: `/Bundle?type=message&MessageHeader.event=pds-change-of-address-1&Patient.identifier=https://fhir.nhs.uk/Id/nhs-number|${nhs}`,
      channel: { type: 'rest-hook', endpoint, payload: 'application/fhir+json' },
    }),
  });
  assert.equal(res.statusCode, 201, res.body.slice(0, 400));
}

/** Moves the patient's address as PDS wants it (test the item's id, then replace); the request id. */
async function moveHouse(
  node: Node,
  token: string,
  nhs: string,
  postalCode: string,
  correlationId: string,
  headers: Record<string, string> = {},
): Promise<string> {
  const auth = { authorization: `Bearer ${token}` };
  const read = await node.app.inject({
    url: `${PDS}/Patient/${nhs}`,
    headers: { ...auth, 'x-request-id': randomUUID() },
  });
  assert.equal(read.statusCode, 200, read.body.slice(0, 400));
  const requestId = randomUUID();
  const res = await node.app.inject({
    method: 'PATCH',
    url: `${PDS}/Patient/${nhs}`,
    headers: {
      ...auth,
      'x-request-id': requestId,
      'x-correlation-id': correlationId,
      ...headers,
      'content-type': 'application/json-patch+json',
      'if-match': String(read.headers.etag),
    },
    payload: JSON.stringify({
      patches: [
        { op: 'test', path: '/address/0/id', value: read.json().address[0].id },
        { op: 'replace', path: '/address/0/postalCode', value: postalCode },
      ],
    }),
  });
  assert.equal(res.statusCode, 200, res.body.slice(0, 400));
  return requestId;
}

async function auditOf(repo: Repository, requestId: string) {
  const entries = await repo.audit.readAudit(0, 10_000);
  return entries.filter((e) => e.record.requestId === requestId);
}

for (const kind of await storesUnderTest()) {
  const nats = kind === 'postgres';
  describe(`Tracing (${kind}, ${nats ? 'two nodes over NATS' : 'one node, embedded bus'})`, () => {
    let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
    let subscriber: Awaited<ReturnType<typeof startSubscriber>>;
    let cleanup: () => Promise<void>;
    let stream: string;
    let baseConfig: (nodeId: string, otlpUrl: string | null) => Config;
    const nodes: Node[] = [];
    let stopTracing: (() => Promise<void>) | undefined;

    before(async () => {
      receiver = await startOtlpReceiver();
      subscriber = await startSubscriber();
      const isolated = await isolatedStoreConfig(kind as StoreKind);
      cleanup = isolated.cleanup;
      stream = testStreamName();
      baseConfig = (nodeId, otlpUrl) => ({
        ...loadConfig({}, {}),
        ...isolated.config,
        messagePollMs: 20,
        nodeId,
        messaging: nats ? 'nats' : 'embedded',
        natsUrl: SHARED_NATS_URL,
        natsStream: stream,
        logLevel: 'info',
        tracing: { otlpUrl, sampleRatio: 1, serviceName: 'openspine-test' },
      });
    });

    after(async () => {
      await stopTracing?.();
      for (const n of nodes) await n.close().catch(() => {});
      if (nats) await deleteStream(SHARED_NATS_URL, stream);
      await cleanup?.();
      await receiver?.close();
      await subscriber?.close();
    });

    it('follows one PATCH from the server span through the store and the bus to the delivery', async () => {
      const configA = baseConfig('node-a', receiver.url);
      stopTracing = await startTracing(configA.tracing, configA.nodeId);
      // over NATS, node B alone routes and delivers notifications: the trace must cross nodes
      const a = await startNode(configA, { notifications: !nats });
      nodes.push(a);
      if (nats) nodes.push(await startNode(baseConfig('node-b', receiver.url)));
      const deliveringNode = nodes.at(-1)!;
      const nhs = SPARE_NHS[20];
      await commitPatients(a.repo, [variant(nhs)]);
      const token = await tokenFor(configA);
      await subscribe(a, token, nhs, `${subscriber.url}/ok`);
      await subscribe(a, token, nhs, `${subscriber.url}/fail`);

      const correlationId = `trace-test-${randomUUID()}`;
      // the caller's own trace (a W3C traceparent): the platform's spans continue it
      const callerTrace = randomUUID().replace(/-/g, '');
      const callerSpan = randomUUID().replace(/-/g, '').slice(0, 16);
      const requestId = await moveHouse(a, token, nhs, 'LS1 4AP', correlationId, {
        traceparent: `00-${callerTrace}-${callerSpan}-01`,
      });
      await waitFor('the notification delivery', () => subscriber.paths.includes('/ok'));
      // the failing endpoint's last attempt is dead-lettered, with a log line from inside its delivery
      const deadLettered = () => deliveringNode.logs.find((l) => l.includes('dead-lettered'));
      await waitFor('the dead-letter log line', () => deadLettered() !== undefined);

      const serverSpan = () =>
        receiver.spans.find(
          (s) => s.kind === SERVER && s.attributes['openspine.correlation_id'] === correlationId,
        );
      await waitFor('the PATCH server span', () => serverSpan() !== undefined);
      const patch = serverSpan()!;
      const traceId = patch.traceId;
      assert.equal(traceId, callerTrace);
      assert.equal(patch.parentSpanId, callerSpan);
      assert.equal(patch.attributes['http.request.method'], 'PATCH');
      assert.equal(patch.attributes['http.response.status_code'], 200);
      assert.equal(patch.attributes['openspine.node'], 'node-a');
      assert.match(String(patch.attributes['http.route']), /Patient\/:/);

      // the deliveries to the subscriber: every one of them continues the PATCH's trace
      const deliveries = () =>
        receiver.spans.filter(
          (s) => s.kind === CONSUMER && s.attributes['messaging.consumer.group.name'] === DELIVERER,
        );
      const leadsToPatch = (s: ReceivedSpan) => ancestry(receiver.spans, s).includes(patch);
      await waitFor(
        'the deliveries (both endpoints, the failing one twice) and their parent chains',
        () => deliveries().length >= 3 && deliveries().every(leadsToPatch),
      );
      for (const d of deliveries()) {
        assert.equal(d.traceId, traceId);
        assert.equal(d.name, 'openspine.bus.deliver notifications.deliver');
        assert.equal(typeof d.attributes['messaging.message.id'], 'string');
      }
      assert.deepEqual(
        deliveries()
          .map((d) => d.attributes['openspine.delivery.attempt'])
          .sort(),
        [1, 1, 2],
      );

      // the path back: deliver -> (publish) -> router's commit -> router's delivery -> (publish)
      // -> the PATCH's commit -> the PATCH
      const chain = ancestry(receiver.spans, deliveries()[0]);
      assert.ok(chain.every((s) => s.traceId === traceId));
      const names = chain.map((s) => s.name);
      assert.ok(
        names.some((n) => /^openspine\.bus\.deliver pds\./.test(n)),
        `a delivery of the PDS event on the way: ${names.join(' < ')}`,
      );
      const commits = chain.filter((s) => s.name === 'openspine.store.commit');
      assert.equal(commits.length, 2, names.join(' < '));
      for (const c of commits) {
        assert.equal(c.attributes['openspine.store'], kind);
        assert.ok(Number(c.attributes['openspine.store.batch_size']) >= 2);
      }
      assert.equal(
        chain.at(-2)!.name,
        'openspine.store.commit',
        'the PATCH commit under the PATCH',
      );
      const publishes = chain.filter((s) => s.name === 'openspine.bus.publish');
      assert.equal(publishes.length, nats ? 2 : 0, names.join(' < '));
      for (const p of publishes) assert.equal(p.kind, PRODUCER);

      // the audit entry of the PATCH, the outbox messages and a log line name the trace
      const audit = await auditOf(a.repo, requestId);
      assert.ok(audit.length > 0);
      for (const e of audit) assert.equal(e.record.traceId, traceId);
      const outbox = await a.repo.messaging.readOutbox(0, 1000);
      const ofPatch = outbox.filter((m) => m.traceparent?.split('-')[1] === traceId);
      assert.ok(ofPatch.length >= 2, 'the PDS event and the deliveries carry the trace');
      const line = JSON.parse(deadLettered()!);
      assert.equal(line.trace_id, traceId);
      assert.match(line.span_id, /^[0-9a-f]{16}$/);

      // traced entries are hashed like any other: the stored chain verifies, and so does an export
      const officer = await tokenFor(configA, {
        userId: 'privacy-officer-2',
        role: 'R5080',
        org: 'X26',
      });
      const verified = await get(a, `${AE}/$verify`, officer);
      assert.equal(verified.statusCode, 200, verified.body.slice(0, 400));
      const valid = verified.json().parameter.find((p: any) => p.name === 'valid');
      assert.equal(valid.valueBoolean, true, verified.body.slice(0, 400));
      const exported = await get(a, `${AE}/$export`, officer);
      assert.equal(exported.statusCode, 200, exported.body.slice(0, 400));
      const doc = exported.json();
      assert.ok(doc.entries.some((e: any) => JSON.parse(e.recordJson).traceId === traceId));
      const jwks = (await get(a, '/.well-known/jwks.json', null)).json();
      const checked = await verifyAuditExport(doc, keysOf(jwks));
      assert.equal(checked.ok, true, JSON.stringify(checked));
    });

    it('exports nothing and stamps nothing with tracing off', async () => {
      await stopTracing!();
      stopTracing = undefined;
      for (const n of nodes.splice(0)) await n.close();
      const received = receiver.spans.length;
      const off = await startNode(baseConfig('node-c', null));
      nodes.push(off);
      const nhs = SPARE_NHS[21];
      await commitPatients(off.repo, [variant(nhs)]);
      const token = await tokenFor(baseConfig('node-c', null));
      await subscribe(off, token, nhs, `${subscriber.url}/off`);
      const requestId = await moveHouse(off, token, nhs, 'LS2 7UE', `off-${randomUUID()}`);
      await waitFor('the notification delivery', () => subscriber.paths.includes('/off'));

      assert.equal(receiver.spans.length, received, 'no span exported');
      const audit = await auditOf(off.repo, requestId);
      assert.ok(audit.length > 0);
      for (const e of audit) {
        assert.equal(e.record.traceId, undefined);
        assert.doesNotMatch(e.recordJson, /traceId/);
      }
      const outbox = await off.repo.messaging.readOutbox(0, 1000);
      const untraced = outbox.filter((m) => JSON.stringify(m.body).includes(nhs));
      assert.ok(untraced.length > 0);
      for (const m of untraced) assert.equal(m.traceparent, undefined);
      assert.ok(off.logs.every((l) => !l.includes('trace_id')));
    });
  });
}
