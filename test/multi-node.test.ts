/**
 * Several `openspine serve` processes over one PostgreSQL schema and one NATS JetStream server, as
 * docs/scale-out.md describes. The test owns its NATS server (so it can stop it) and drives the
 * nodes only over HTTP, as a load balancer would: a write on one node is read on the other, a node
 * SIGKILLed mid-stream loses no notification (a POST it was making may be re-sent by the survivor,
 * with the same Bundle id), and while NATS is down writes still succeed and their notifications
 * arrive, once each, when it is back.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../src/config.js';
import { loadOrCreateSigningKey, mintToken } from '../src/security/embedded-idp.js';
import {
  killAllChildren,
  startChildServer,
  type ChildServer,
  type StoreTarget,
} from './helpers/child-server.js';
import { OwnNatsServer, testStreamName } from './helpers/nats-server.js';
import { fixture } from './helpers/pds-fixtures.js';
import { isolatedStoreConfig, storesUnderTest } from './helpers/stores.js';

const PDS = '/personal-demographics/FHIR/R4';
const EVENTS = '/events/FHIR/R4';
const PATIENTS = 3;
const CHANGES_PER_PATIENT = 8;

interface Delivery {
  bundleId: string;
  nhs: string;
  version: number;
  event: string;
}

/** A subscriber's endpoint: records every POST it receives, duplicates included. */
async function startReceiver(): Promise<{
  url: string;
  received: Delivery[];
  close(): Promise<void>;
}> {
  const received: Delivery[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const bundle = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const patient = bundle.entry.find((e: any) => e.resource.resourceType === 'Patient').resource;
      received.push({
        bundleId: bundle.id,
        nhs: patient.id,
        version: Number(patient.meta.versionId),
        event: bundle.entry[0].resource.eventCoding.code,
      });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/nems`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function waitFor(what: string, done: () => boolean, limitMs = 60_000): Promise<void> {
  const until = Date.now() + limitMs;
  while (!done()) {
    if (Date.now() > until) assert.fail(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const kinds = await storesUnderTest();

describe(
  'Several nodes over one PostgreSQL and one NATS',
  { skip: !kinds.includes('postgres') && 'PostgreSQL not under test' },
  () => {
    let nats: OwnNatsServer;
    let cleanup: () => Promise<void>;
    let target: StoreTarget;
    let nodeA: ChildServer;
    let nodeB: ChildServer;
    let receiver: Awaited<ReturnType<typeof startReceiver>>;
    let token: string;
    const patients: string[] = [];
    /** Address changes made so far, per patient: each one must reach the subscriber. */
    const expected = new Map<string, number>();

    async function call(
      node: ChildServer,
      method: string,
      path: string,
      body?: unknown,
      headers: Record<string, string> = {},
    ) {
      const res = await fetch(node.url + path, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          'x-request-id': randomUUID(),
          ...(body === undefined
            ? {}
            : { 'content-type': headers['content-type'] ?? 'application/fhir+json' }),
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return {
        status: res.status,
        etag: res.headers.get('etag'),
        json: text ? JSON.parse(text) : undefined,
        text,
      };
    }

    /** Moves the patient's home to a new postcode through `node`, re-reading the version on that node. */
    async function moveHouse(node: ChildServer, nhs: string, n: number): Promise<void> {
      const read = await call(node, 'GET', `${PDS}/Patient/${nhs}`);
      assert.equal(read.status, 200, read.text.slice(0, 300));
      // a change within a list item names the item's id first
      // (NHSDigital/personal-demographics-service-api replaceErrors.feature: "no id or url found
      // for path with root /address/0")
      const res = await call(
        node,
        'PATCH',
        `${PDS}/Patient/${nhs}`,
        {
          patches: [
            { op: 'test', path: '/address/0/id', value: read.json.address[0].id },
            { op: 'replace', path: '/address/0/postalCode', value: `LS${n % 30} ${n % 10}AA` },
          ],
        },
        { 'content-type': 'application/json-patch+json', 'if-match': read.etag! },
      );
      assert.equal(res.status, 200, res.text.slice(0, 300));
      expected.set(nhs, (expected.get(nhs) ?? 0) + 1);
    }

    const addressChanges = () =>
      receiver.received.filter((d) => d.event === 'pds-change-of-address-1');
    const distinctIds = () => new Set(addressChanges().map((d) => d.bundleId));
    /** Each event at its first arrival (a re-sent POST repeats an event already seen). */
    const firstArrivals = () =>
      addressChanges().filter((d, i, all) => all.findIndex((x) => x.bundleId === d.bundleId) === i);
    const expectedTotal = () => [...expected.values()].reduce((a, b) => a + b, 0);

    before(async () => {
      nats = await OwnNatsServer.start();
      const store = await isolatedStoreConfig('postgres');
      cleanup = store.cleanup;
      target = {
        store: 'postgres',
        dataDir: store.config.dataDir,
        databaseUrl: store.config.databaseUrl,
        databaseSchema: store.config.databaseSchema,
      };
      const stream = testStreamName();
      const nodeArgs = (id: string) => [
        '--messaging',
        'nats',
        '--nats-url',
        nats.url,
        '--nats-stream',
        stream,
        '--node-id',
        id,
      ];
      // one after the other: the first creates the signing key in the shared data directory
      nodeA = await startChildServer(target, nodeArgs('node-a'));
      nodeB = await startChildServer(target, nodeArgs('node-b'));
      const key = await loadOrCreateSigningKey(target.dataDir);
      token = await mintToken(key, {
        userId: 'multi-node-clinician',
        role: 'R8000',
        org: 'A81001',
        audience: loadConfig({}, {}).audience,
      });
      receiver = await startReceiver();
    });

    after(async () => {
      await killAllChildren();
      await receiver?.close();
      await nats?.close();
      await cleanup?.();
    });

    it('registers births on either node and reads each on the other', async () => {
      for (let i = 0; i < PATIENTS; i++) {
        const writer = i % 2 === 0 ? nodeA : nodeB;
        const reader = i % 2 === 0 ? nodeB : nodeA;
        const body = fixture('requests/PatientCreate/create-patient.json');
        body.name[0].family = `Multinode${'abc'[i]}`;
        body.birthDate = `2026-0${i + 1}-1${i}`;
        // one current home address (the published example's first address has ended)
        body.address = [{ ...body.address[0], period: { start: '2024-01-01' } }];
        const created = await call(writer, 'POST', `${PDS}/Patient`, body);
        assert.equal(created.status, 201, created.text.slice(0, 300));
        const nhs = created.json.id as string;
        const read = await call(reader, 'GET', `${PDS}/Patient/${nhs}`);
        assert.equal(
          read.status,
          200,
          `birth registered on one node is read on the other: ${read.text.slice(0, 200)}`,
        );
        assert.equal(read.json.name[0].family, `Multinode${'abc'[i]}`);
        patients.push(nhs);
      }
      // and an update on one node is what the other serves next
      await moveHouse(nodeA, patients[0], 100);
      const onB = await call(nodeB, 'GET', `${PDS}/Patient/${patients[0]}`);
      assert.equal(
        onB.json.address[0].postalCode,
        'LS10 0AA',
        'node B serves the address node A just wrote',
      );
    });

    it('delivers every notification once, in order per patient, although one node is killed mid-stream', async () => {
      for (const nhs of patients) {
        const sub = await call(nodeA, 'POST', `${EVENTS}/Subscription`, {
          resourceType: 'Subscription',
          status: 'requested',
          reason: 'multi-node test',
          criteria: `/Bundle?type=message&MessageHeader.event=pds-change-of-address-1&Patient.identifier=https://fhir.nhs.uk/Id/nhs-number|${nhs}`,
          channel: { type: 'rest-hook', endpoint: receiver.url, payload: 'application/fhir+json' },
        });
        assert.equal(sub.status, 201, sub.text.slice(0, 300));
      }
      // the change made before subscribing is not owed to the subscriber
      expected.clear();
      const total = PATIENTS * CHANGES_PER_PATIENT;
      for (let n = 0; n < total; n++) {
        const nhs = patients[n % PATIENTS];
        if (n === total / 2) {
          // node B dies without warning while both nodes are relaying and delivering
          const exit = await nodeB.kill('SIGKILL');
          assert.equal(exit.signal, 'SIGKILL', 'node B was killed');
        }
        await moveHouse(n < total / 2 && n % 2 === 1 ? nodeB : nodeA, nhs, n);
      }
      await waitFor(
        `${expectedTotal()} address-change notifications`,
        () => distinctIds().size >= expectedTotal(),
      ).catch((err) => {
        throw new Error(
          `${err.message}; received ${receiver.received.length}\nnode A log:\n${nodeA.stdout().slice(-3000)}\n${nodeA.stderr().slice(-2000)}`,
        );
      });
      // give a lost, doubled or spurious delivery the time to show up before counting
      await new Promise((r) => setTimeout(r, 1500));
      const deliveries = addressChanges();
      assert.equal(
        distinctIds().size,
        expectedTotal(),
        'every change was notified once, and nothing else',
      );
      // A POST the subscriber answered just before node B died, but that B had not yet recorded, is
      // sent again by node A: at-least-once over HTTP. It carries the same Bundle id (NEMS subscribers
      // dedupe on it), and only deliveries in flight at the kill (one per partition at most) can repeat.
      const repeats = deliveries.length - distinctIds().size;
      console.log(
        `# ${deliveries.length} POSTs for ${expectedTotal()} events: ${repeats} re-sent after the kill, each with its original Bundle id`,
      );
      assert.ok(repeats <= 8, `only deliveries in flight at the kill may repeat: ${repeats}`);
      for (const nhs of patients) {
        const versions = firstArrivals()
          .filter((d) => d.nhs === nhs)
          .map((d) => d.version);
        assert.equal(versions.length, expected.get(nhs), `all changes of ${nhs} arrived`);
        assert.deepEqual(
          versions,
          [...versions].sort((a, b) => a - b),
          `changes of ${nhs} arrived in the order they were made: ${versions.join(',')}`,
        );
      }
    });

    it('keeps accepting writes while NATS is down, and the outbox catches up when it is back', async () => {
      const before = addressChanges().length;
      const idsBefore = distinctIds().size;
      await nats.pause();
      for (let n = 0; n < PATIENTS * 2; n++)
        await moveHouse(nodeA, patients[n % PATIENTS], 200 + n);
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(
        addressChanges().length,
        before,
        'nothing is delivered while NATS is down (the events wait in the outbox)',
      );
      await nats.resume();
      await waitFor(
        'the outbox to catch up after NATS came back',
        () => distinctIds().size >= expectedTotal(),
      );
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(
        distinctIds().size,
        expectedTotal(),
        'every change made while NATS was down was notified',
      );
      assert.equal(
        addressChanges().length - before,
        distinctIds().size - idsBefore,
        'and none twice (no node died this time)',
      );
      for (const nhs of patients) {
        const versions = firstArrivals()
          .filter((d) => d.nhs === nhs)
          .map((d) => d.version);
        assert.deepEqual(
          versions,
          [...versions].sort((a, b) => a - b),
          `changes of ${nhs} still in order: ${versions.join(',')}`,
        );
      }
    });
  },
);
