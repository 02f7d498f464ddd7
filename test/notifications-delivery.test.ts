/**
 * Life events reaching subscribers end to end: PDS writes publish events, the router matches
 * subscriptions, the deliverer POSTs signed Bundles to a real local HTTP server (port 0). Checks the
 * signature against the platform's published JWKS, once-only delivery, per-patient order, retries
 * then dead-lettering of a failing endpoint, the pull mailbox with acknowledgement, and that neither
 * another organisation nor a non-matching patient's subscriber receives anything.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { Patient } from 'fhir/r4.js';
import { compactVerify, createLocalJWKSet } from 'jose';
import { loadConfig } from '../src/config.js';
import { buildApp } from '../src/http/app.js';
import { createBus } from '../src/messaging/create-bus.js';
import type { MessageBus } from '../src/messaging/types.js';
import { loadOrCreateSigningKey, mintToken } from '../src/security/embedded-idp.js';
import { openRepository } from '../src/store/open.js';
import type { Repository } from '../src/store/repository.js';
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

const BASE = '/events/FHIR/R4';
const ODS = 'https://fhir.nhs.uk/Id/ods-organization-code';
const JSON_PATCH = 'application/json-patch+json';
/** The deliverer's retry policy, shortened for the test (the product default retries for minutes). */
const TEST_ATTEMPTS = 3;

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A subscriber's HTTP endpoint: records every POST; paths under /fail answer 500. */
async function startReceiver(): Promise<{ server: Server; url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      res.statusCode = req.url?.startsWith('/fail') ? 500 : 200;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
}

/**
 * The platform as startTestPlatform builds it, but with a bus whose deliverer consumer retries
 * faster and fewer times, so dead-lettering is reached in a test's time; everything else is as shipped.
 */
async function startPlatform(kind: StoreKind) {
  const { config: storeConfig, cleanup } = await isolatedStoreConfig(kind);
  const config = { ...loadConfig({}, {}), messagePollMs: 20, ...storeConfig };
  const repo: Repository = await openRepository(config);
  const key = await loadOrCreateSigningKey(config.dataDir);
  const real = await createBus(config, repo);
  const bus: MessageBus = {
    kind: real.kind,
    consume: (options, handler) =>
      real.consume(
        options.name === 'notifications.deliverer'
          ? { ...options, maxAttempts: TEST_ATTEMPTS, retryDelayMs: 20 }
          : options,
        handler,
      ),
    start: () => real.start(),
    stop: () => real.stop(),
  };
  const app: FastifyInstance = await buildApp({
    config,
    repo,
    signingKey: key,
    logger: false,
    bus,
  });
  await app.ready();
  const token = (org = 'A81001', role = 'R8000') =>
    mintToken(key, { userId: `user-${org}`, role, org, audience: config.audience });
  const request = async (opts: {
    method?: string;
    url: string;
    body?: unknown;
    token?: string | null;
    contentType?: string;
    headers?: Record<string, string>;
  }): Promise<LightMyRequestResponse> => {
    const headers: Record<string, string> = { 'x-request-id': randomUUID(), ...opts.headers };
    const bearer = opts.token === undefined ? await token() : opts.token;
    if (bearer) headers.authorization = `Bearer ${bearer}`;
    if (opts.body !== undefined)
      headers['content-type'] = opts.contentType ?? 'application/fhir+json';
    return app.inject({
      method: (opts.method ?? 'GET') as 'GET',
      url: opts.url,
      headers,
      payload: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    });
  };
  return {
    app,
    repo,
    token,
    request,
    async close() {
      await app.close();
      await repo.close();
      await cleanup();
    },
  };
}

/** Polls until `done` holds (the bus works in the background); fails with `what` if it never does. */
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

function variant(nhs: string, family: string): Patient {
  const p = living(current(withNhsNumber(fixture<Patient>('Patient.json'), nhs)));
  p.name![0].family = family;
  return p;
}

const eventCode = (bundle: any) => bundle.entry[0].resource.eventCoding.code;
const patientOf = (bundle: any) => bundle.entry[1].resource;

/**
 * The patches, each change within a list item preceded by a test of that item's id, as PDS requires ("no id or url
 * found for path with root /address/0", NHSDigital/personal-demographics-service-api replaceErrors.feature).
 */
function namingItems(record: any, patches: any[]): any[] {
  const roots = [
    ...new Set(
      patches
        .map((p) =>
          /^\/(name|address|telecom|contact|generalPractitioner)\/(\d+)\/./
            .exec(p.path)
            ?.slice(1, 3)
            .join('/'),
        )
        .filter(Boolean),
    ),
  ] as string[];
  return [
    ...roots.map((r) => {
      const [list, i] = r.split('/');
      return { op: 'test', path: `/${list}/${i}/id`, value: record[list][Number(i)].id };
    }),
    ...patches,
  ];
}

for (const kind of await storesUnderTest()) {
  describe(`Notification delivery (${kind})`, () => {
    let platform: Awaited<ReturnType<typeof startPlatform>>;
    let receiver: Awaited<ReturnType<typeof startReceiver>>;
    let jwks: ReturnType<typeof createLocalJWKSet>;
    const P = {
      changes: SPARE_NHS[16],
      untouchedB: SPARE_NHS[17],
      failing: SPARE_NHS[18],
      mailbox: SPARE_NHS[19],
    };
    const subs: Record<string, string> = {};

    async function subscribe(
      name: string,
      criteria: string,
      channel: Record<string, unknown>,
      org = 'A81001',
    ): Promise<string> {
      const res = await platform.request({
        method: 'POST',
        url: `${BASE}/Subscription`,
        token: await platform.token(org),
        body: {
          resourceType: 'Subscription',
          status: 'requested',
          reason: `test ${name}`,
          criteria,
          channel,
        },
      });
      assert.equal(res.statusCode, 201, res.body.slice(0, 400));
      subs[name] = res.json().id;
      return subs[name];
    }
    const hook = (path: string) => ({
      type: 'rest-hook',
      endpoint: `${receiver.url}${path}`,
      payload: 'application/fhir+json',
    });
    const forPatient = (nhs: string, events: string) =>
      `/Bundle?type=message&MessageHeader.event=${events}&Patient.identifier=https://fhir.nhs.uk/Id/nhs-number|${nhs}`;

    async function patch(nhs: string, patches: unknown[]) {
      const read = await platform.request({ url: `${PDS}/Patient/${nhs}` });
      const version = /W\/"(\d+)"/.exec(String(read.headers.etag))![1];
      const res = await platform.request({
        method: 'PATCH',
        url: `${PDS}/Patient/${nhs}`,
        body: { patches: namingItems(read.json(), patches as any[]) },
        contentType: JSON_PATCH,
        headers: { 'if-match': `W/"${version}"` },
      });
      assert.equal(res.statusCode, 200, res.body.slice(0, 400));
    }
    const moveHouse = (nhs: string, postalCode: string) =>
      patch(nhs, [{ op: 'replace', path: '/address/0/postalCode', value: postalCode }]);
    const changeGp = (nhs: string, ods: string) =>
      patch(nhs, [
        {
          op: 'replace',
          path: '/generalPractitioner/0',
          value: { id: '254406A3', type: 'Organization', identifier: { system: ODS, value: ods } },
        },
      ]);
    const die = (nhs: string) =>
      patch(nhs, [{ op: 'add', path: '/deceasedDateTime', value: '2026-01-02T10:00:00+00:00' }]);

    const at = (path: string) => receiver.received.filter((r) => r.path === path);

    before(async () => {
      receiver = await startReceiver();
      platform = await startPlatform(kind);
      jwks = createLocalJWKSet(
        (await platform.request({ url: '/.well-known/jwks.json', token: null })).json(),
      );
      await commitPatients(platform.repo, [
        variant(P.changes, 'Changesevent'),
        variant(P.untouchedB, 'Untouchedevent'),
        variant(P.failing, 'Failingevent'),
        variant(P.mailbox, 'Mailboxevent'),
      ]);
      await subscribe(
        'changes',
        forPatient(
          P.changes,
          'pds-change-of-address-1,pds-change-of-gp-1,pds-death-notification-1',
        ),
        hook('/changes'),
      );
      await subscribe(
        'births',
        '/Bundle?type=message&MessageHeader.event=pds-birth-notification-1&Patient.generalPractitioner=A81001',
        hook('/births'),
      );
      // organisation B subscribes to a patient nothing happens to, and to its own practice's births
      await subscribe(
        'otherOrg',
        forPatient(
          P.untouchedB,
          'pds-change-of-address-1,pds-change-of-gp-1,pds-death-notification-1',
        ),
        hook('/other-org'),
        'B82001',
      );
      await subscribe(
        'otherOrgBirths',
        '/Bundle?type=message&MessageHeader.event=pds-birth-notification-1&Patient.generalPractitioner=B82001',
        hook('/other-org'),
        'B82001',
      );
      await subscribe('failing', forPatient(P.failing, 'pds-change-of-address-1'), hook('/fail'));
      await subscribe(
        'mailbox',
        forPatient(
          P.mailbox,
          'pds-change-of-address-1,pds-change-of-gp-1,pds-death-notification-1',
        ),
        { type: 'message' },
      );
    });
    after(async () => {
      await platform.close();
      await new Promise((r) => receiver.server.close(r));
    });

    /** Checks the detached JWS in X-Signature over the exact body against the published key set. */
    async function assertSigned(r: Received, subscription: string): Promise<any> {
      const signature = String(r.headers['x-signature'] ?? '');
      const [header, middle, sig] = signature.split('.');
      assert.ok(
        header && middle === '' && sig,
        `a detached compact JWS: ${signature.slice(0, 60)}`,
      );
      const { protectedHeader, payload } = await compactVerify(
        `${header}.${Buffer.from(r.body).toString('base64url')}.${sig}`,
        jwks,
      );
      assert.equal(Buffer.from(payload).toString('utf8'), r.body);
      assert.equal(protectedHeader.sub, subscription, 'signed for this subscription');
      const tampered = r.body.replace('"type":"message"', '"type":"message" ');
      await assert.rejects(
        compactVerify(`${header}.${Buffer.from(tampered).toString('base64url')}.${sig}`, jwks),
        'a changed body fails verification',
      );
      const bundle = JSON.parse(r.body);
      assert.equal(bundle.resourceType, 'Bundle');
      assert.equal(bundle.type, 'message');
      assert.equal(protectedHeader.bundle, bundle.id);
      return bundle;
    }

    it('three changes to one patient reach its subscriber signed, once each, in order', async () => {
      await moveHouse(P.changes, 'LS2 7EW');
      await changeGp(P.changes, 'A81002');
      await die(P.changes);
      await waitFor('three deliveries', () => at('/changes').length >= 3);
      const bundles = [];
      for (const r of at('/changes')) bundles.push(await assertSigned(r, subs.changes));
      assert.deepEqual(
        bundles.map(eventCode),
        ['pds-change-of-address-1', 'pds-change-of-gp-1', 'pds-death-notification-1'],
        'in the order of the changes',
      );
      for (const b of bundles) assert.equal(patientOf(b).identifier[0].value, P.changes);
      assert.equal(patientOf(bundles[0]).address[0].postalCode, 'LS2 7EW');
      assert.equal(patientOf(bundles[1]).generalPractitioner[0].identifier.value, 'A81002');
      assert.equal(
        bundles[1].entry.find((e: any) => e.resource.resourceType === 'EpisodeOfCare').resource
          .managingOrganization.identifier.value,
        'Y12345',
        'the practice left',
      );
      assert.equal(patientOf(bundles[2]).deceasedDateTime, '2026-01-02T10:00:00+00:00');
      assert.equal(new Set(bundles.map((b) => b.id)).size, 3, 'distinct Bundle ids');
    });

    it('a birth reaches the subscriber for its practice, and only that one', async () => {
      const body = fixture('requests/PatientCreate/create-patient.json');
      body.name[0].family = 'Newbornevent';
      body.generalPractitioner = [
        { type: 'Organization', identifier: { system: ODS, value: 'A81001' } },
      ];
      const res = await platform.request({ method: 'POST', url: `${PDS}/Patient`, body });
      assert.equal(res.statusCode, 201, res.body.slice(0, 400));
      const nhs = res.json().id;
      await waitFor('the birth delivery', () => at('/births').length >= 1);
      const bundle = await assertSigned(at('/births')[0], subs.births);
      assert.equal(eventCode(bundle), 'pds-birth-notification-1');
      assert.equal(patientOf(bundle).identifier[0].value, nhs);
      assert.equal(patientOf(bundle).birthDate, '2010-10-22');
    });

    it('a failing endpoint is retried, then the delivery is dead-lettered', async () => {
      await moveHouse(P.failing, 'LS3 1AA');
      await waitFor(
        'the dead letter',
        async () =>
          (
            await platform.repo.messaging.listDeadLetters({
              consumer: 'notifications.deliverer',
              limit: 10,
            })
          ).length > 0,
      );
      const [dead] = await platform.repo.messaging.listDeadLetters({
        consumer: 'notifications.deliverer',
        limit: 10,
      });
      assert.equal(dead.attempts, TEST_ATTEMPTS);
      assert.equal((dead.message.body as any).subscriptionId, subs.failing);
      const attempts = at('/fail');
      assert.equal(attempts.length, TEST_ATTEMPTS, 'one POST per attempt');
      assert.deepEqual(
        attempts.map((a) => a.headers['x-delivery-attempt']),
        ['1', '2', '3'],
      );
      assert.equal(
        new Set(attempts.map((a) => JSON.parse(a.body).id)).size,
        1,
        'every attempt carries the same Bundle',
      );
      const audit = await platform.repo.audit.readAudit(0, 100_000);
      assert.ok(
        audit.some(
          (a) =>
            a.record.action === 'notifications.deliver' &&
            a.record.patient === P.failing &&
            a.record.outcome === 'failed 500',
        ),
        'failed attempts audited',
      );
    });

    it('the mailbox returns the oldest unacknowledged messages in order; acknowledging removes them', async () => {
      await moveHouse(P.mailbox, 'LS4 2BB');
      await changeGp(P.mailbox, 'A81003');
      await die(P.mailbox);
      const mailbox = async (count: number, token?: string) =>
        platform.request({
          url: `${BASE}/Subscription/${subs.mailbox}/$mailbox?_count=${count}`,
          token,
        });
      await waitFor('three mailbox entries', async () => (await mailbox(10)).json().total === 3);
      const firstTwo = (await mailbox(2)).json();
      assert.deepEqual(
        firstTwo.entry.map((e: any) => eventCode(e.resource)),
        ['pds-change-of-address-1', 'pds-change-of-gp-1'],
      );
      const ack = await platform.request({
        method: 'POST',
        url: `${BASE}/Subscription/${subs.mailbox}/$acknowledge`,
        body: {
          resourceType: 'Parameters',
          parameter: [{ name: 'bundle', valueString: firstTwo.entry[1].resource.id }],
        },
      });
      assert.equal(ack.statusCode, 200, ack.body.slice(0, 300));
      const rest = (await mailbox(10)).json();
      assert.deepEqual(
        rest.entry.map((e: any) => eventCode(e.resource)),
        ['pds-death-notification-1'],
        'only the unacknowledged one is left',
      );
      const other = await platform.request({
        url: `${BASE}/Subscription/${subs.mailbox}/$mailbox`,
        token: await platform.token('B82001'),
      });
      assert.equal(other.statusCode, 404, 'another organisation cannot open it');
      const seq = rest.entry[0].extension[0].valueInteger;
      const ackSeq = await platform.request({
        method: 'POST',
        url: `${BASE}/Subscription/${subs.mailbox}/$acknowledge`,
        body: { resourceType: 'Parameters', parameter: [{ name: 'seq', valueInteger: seq }] },
      });
      assert.equal(ackSeq.statusCode, 200, ackSeq.body.slice(0, 300));
      assert.equal((await mailbox(10)).json().total, 0, 'empty once everything is acknowledged');
      const audit = await platform.repo.audit.readAudit(0, 100_000);
      assert.ok(
        audit.some(
          (a) => a.record.action === 'notifications.mailbox.read' && a.record.patient === P.mailbox,
        ),
        'mailbox reads audited against the patient',
      );
    });

    it('every delivery is finished exactly once; the other organisation and the non-matching subscriber got nothing', async () => {
      // wait for the bus to finish every delivery it was given, then count what arrived
      await waitFor('all deliveries finished', async () => {
        const outbox = await platform.repo.messaging.readOutbox(0, 10_000);
        const deliveries = outbox.filter((m) => m.topic === 'notifications.deliver');
        const states = await Promise.all(
          deliveries.map((m) =>
            platform.repo.messaging.deliveryState('notifications.deliverer', m.id),
          ),
        );
        return states.every((s) => s === 'done' || s === 'dead');
      });
      const delivered = receiver.received
        .filter((r) => !r.path.startsWith('/fail'))
        .map((r) => `${r.path} ${JSON.parse(r.body).id}`);
      assert.equal(
        new Set(delivered).size,
        delivered.length,
        `no Bundle reached a subscriber twice: ${delivered.join(', ')}`,
      );
      assert.equal(at('/changes').length, 3);
      assert.equal(at('/births').length, 1);
      assert.deepEqual(
        at('/other-org'),
        [],
        "organisation B subscribed to other patients and its own practice: nothing of A's patients",
      );
      const audit = await platform.repo.audit.readAudit(0, 100_000);
      const deliveredAudits = audit.filter(
        (a) =>
          a.record.action === 'notifications.deliver' &&
          a.record.outcome === 'delivered' &&
          a.record.patient === P.changes,
      );
      assert.equal(deliveredAudits.length, 3, 'each delivery audited against the patient');
      assert.ok(
        deliveredAudits.every((a) => a.record.org === 'A81001'),
        'naming the receiving organisation',
      );
    });
  });
}
