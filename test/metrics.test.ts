/**
 * GET /metrics (src/services/operations/, src/observability/metrics*.ts): never open (the scrape
 * token or a role allowing operations.metrics), every catalogued metric present, and the counters
 * moving with the traffic the test makes, on both stores. With `--metrics off` the route refuses and
 * no metrics hook is registered.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { ClientRegistry } from '../src/security/accounts/clients.js';
import { UserDirectory } from '../src/security/accounts/users.js';
import { PDS, spineCode, startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';
import { commitPatients, currentJane, NHS } from './helpers/pds-fixtures.js';
import { samples, valueOf } from './helpers/metrics-text.js';

const SCRAPE_TOKEN = 'scrape-' + randomBytes(16).toString('hex');
const PDS_READ_ROUTE = `${PDS}/Patient/:nhsNumber`;

/** The fixed catalogue (the alert rules and the dashboard use these names and types). */
const CATALOGUE: Record<string, 'counter' | 'gauge' | 'histogram'> = {
  openspine_http_requests_total: 'counter',
  openspine_http_request_duration_seconds: 'histogram',
  openspine_http_requests_in_flight: 'gauge',
  openspine_http_open_connections: 'gauge',
  openspine_store_commit_duration_seconds: 'histogram',
  openspine_store_commit_batch_size: 'histogram',
  openspine_store_group_commit_queue: 'gauge',
  openspine_outbox_depth: 'gauge',
  openspine_outbox_relay_lag_seconds: 'gauge',
  openspine_bus_consumer_lag_messages: 'gauge',
  openspine_bus_dead_letters: 'gauge',
  openspine_bus_deliveries_total: 'counter',
  openspine_bus_delivery_retries_total: 'counter',
  openspine_audit_chain_length: 'gauge',
  openspine_audit_checkpoint_age_seconds: 'gauge',
  openspine_signin_failures_total: 'counter',
  openspine_signin_lockouts_total: 'counter',
  openspine_break_glass_total: 'counter',
  openspine_pg_pool_connections: 'gauge',
  openspine_data_disk_free_bytes: 'gauge',
  openspine_data_disk_size_bytes: 'gauge',
  openspine_store_size_bytes: 'gauge',
  openspine_ready: 'gauge',
  openspine_draining: 'gauge',
  openspine_build_info: 'gauge',
};

for (const kind of await storesUnderTest()) {
  describe(`GET /metrics (${kind})`, () => {
    let platform: TestPlatform;
    const scrape = (headers: Record<string, string> = {}) =>
      platform.app.inject({ method: 'GET', url: '/metrics', headers });
    const scrapeText = async () => {
      const res = await scrape({ authorization: `Bearer ${SCRAPE_TOKEN}` });
      assert.equal(res.statusCode, 200, res.body.slice(0, 300));
      return res.body;
    };

    before(async () => {
      platform = await startTestPlatform(kind, {
        config: { metrics: { enabled: true, scrapeToken: SCRAPE_TOKEN } },
      });
      await commitPatients(platform.repo, [currentJane()]);
    });
    after(() => platform?.close());

    it('is refused without a token, with a wrong token and with a clinician token', async () => {
      const none = await scrape();
      assert.equal(none.statusCode, 401, none.body);
      assert.equal(none.json().resourceType, 'OperationOutcome');
      const wrong = await scrape({ authorization: `Bearer ${SCRAPE_TOKEN}x` });
      assert.equal(wrong.statusCode, 401, wrong.body);
      assert.equal(spineCode(wrong), 'ACCESS_DENIED');
      const clinician = await scrape({ authorization: `Bearer ${await platform.token('R8000')}` });
      assert.equal(clinician.statusCode, 403, clinician.body);
      assert.equal(clinician.json().resourceType, 'OperationOutcome');
    });

    it('answers the scrape token and a Systems Support (R8015) token in the text format', async () => {
      for (const bearer of [SCRAPE_TOKEN, await platform.token('R8015')]) {
        const res = await scrape({ authorization: `Bearer ${bearer}` });
        assert.equal(res.statusCode, 200, res.body.slice(0, 300));
        assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
        assert.match(res.body, /^openspine_build_info\{version="[^"]+",node_version="v\d+/m);
      }
    });

    it('the scrape token opens no other route', async () => {
      const res = await platform.request({
        url: `${PDS}/Patient/${NHS.jane}`,
        token: SCRAPE_TOKEN,
      });
      assert.equal(res.statusCode, 401, res.body);
    });

    it('counts the open connections of the HTTP server', async () => {
      const address = await platform.app.listen({ port: 0, host: '127.0.0.1' });
      // the scrape's own connection is open while the text is made
      const res = await fetch(`${address}/metrics`, {
        headers: { authorization: `Bearer ${SCRAPE_TOKEN}` },
      });
      assert.equal(res.status, 200);
      assert.ok(valueOf(await res.text(), 'openspine_http_open_connections') >= 1);
    });

    it('has every catalogued metric with its type, and the process metrics', async () => {
      const text = await scrapeText();
      for (const [name, type] of Object.entries(CATALOGUE))
        assert.match(text, new RegExp(`^# TYPE ${name} ${type}$`, 'm'), name);
      for (const name of [
        'nodejs_eventloop_lag_p99_seconds',
        'nodejs_heap_size_used_bytes',
        'nodejs_gc_duration_seconds',
        'process_cpu_seconds_total',
      ])
        assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
      // scrape-time gauges read the store
      assert.equal(valueOf(text, 'openspine_store_group_commit_queue', { store: kind }), 0);
      assert.ok(valueOf(text, 'openspine_store_size_bytes', { store: kind }) > 0);
      assert.ok(valueOf(text, 'openspine_data_disk_size_bytes') > 0);
      assert.ok(valueOf(text, 'openspine_audit_chain_length') >= 0);
      assert.equal(valueOf(text, 'openspine_draining'), 0);
      const pool = samples(text).filter((s) => s.name === 'openspine_pg_pool_connections');
      if (kind === 'postgres')
        assert.deepEqual(pool.map((s) => s.labels.state).sort(), ['idle', 'total', 'waiting']);
      else assert.deepEqual(pool, []);
    });

    it('counts requests by route pattern, method and status class', async () => {
      const labels = { route: PDS_READ_ROUTE, method: 'GET', status_class: '2xx' };
      const unmatched = { route: 'unmatched', method: 'GET', status_class: '4xx' };
      const before = await scrapeText();
      for (let i = 0; i < 3; i++) {
        const res = await platform.request({ url: `${PDS}/Patient/${NHS.jane}` });
        assert.equal(res.statusCode, 200, res.body.slice(0, 300));
      }
      const missing = await platform.request({
        url: `/no-such-route/${randomBytes(4).toString('hex')}`,
      });
      assert.equal(missing.statusCode, 404);
      const later = await scrapeText();
      const rise = (name: string, l: Record<string, string>) =>
        valueOf(later, name, l) - valueOf(before, name, l);
      assert.equal(rise('openspine_http_requests_total', labels), 3);
      assert.equal(rise('openspine_http_request_duration_seconds_count', labels), 3);
      assert.equal(rise('openspine_http_requests_total', unmatched), 1);
      assert.equal(rise('openspine_http_request_duration_seconds_count', unmatched), 1);
      // the +Inf bucket holds every observation
      assert.equal(
        rise('openspine_http_request_duration_seconds_bucket', { ...labels, le: '+Inf' }),
        3,
      );
      // no series is keyed by the path itself
      assert.ok(!samples(later).some((s) => s.labels.route?.includes(NHS.jane)));
      // this scrape is itself in flight while the text is made
      assert.equal(valueOf(later, 'openspine_http_requests_in_flight'), 1);
    });

    it('a PATCH raises the store commit histogram', async () => {
      const before = await scrapeText();
      const read = await platform.request({ url: `${PDS}/Patient/${NHS.jane}` });
      const version = read.json().meta.versionId;
      const res = await platform.request({
        method: 'PATCH',
        url: `${PDS}/Patient/${NHS.jane}`,
        headers: { 'if-match': `W/"${version}"` },
        contentType: 'application/json-patch+json',
        body: { patches: [{ op: 'replace', path: '/gender', value: 'other' }] },
      });
      assert.equal(res.statusCode, 200, res.body.slice(0, 300));
      const later = await scrapeText();
      const store = { store: kind };
      const rise = (name: string) => valueOf(later, name, store) - valueOf(before, name, store);
      assert.ok(rise('openspine_store_commit_duration_seconds_count') >= 1);
      assert.ok(rise('openspine_store_commit_batch_size_count') >= 1);
      // the patched version, its audit record and its outbox message(s): more than one item
      assert.ok(rise('openspine_store_commit_batch_size_sum') >= 2);
      assert.ok(
        valueOf(later, 'openspine_audit_chain_length') >
          valueOf(before, 'openspine_audit_chain_length'),
      );
    });

    it('counts the bus deliveries an address change causes', async () => {
      const done = { consumer: 'notifications.router', outcome: 'done' };
      const before = await scrapeText();
      const read = await platform.request({ url: `${PDS}/Patient/${NHS.jane}` });
      const res = await platform.request({
        method: 'PATCH',
        url: `${PDS}/Patient/${NHS.jane}`,
        headers: { 'if-match': `W/"${read.json().meta.versionId}"` },
        contentType: 'application/json-patch+json',
        body: {
          // PDS wants the list item named by a test of its id first
          patches: [
            { op: 'test', path: '/address/0/id', value: read.json().address[0].id },
            { op: 'replace', path: '/address/0/postalCode', value: 'LS1 4BU' },
          ],
        },
      });
      assert.equal(res.statusCode, 200, res.body.slice(0, 300));
      // the embedded bus delivers after the commit, on its own time: wait for the delivery
      let later = await scrapeText();
      for (
        let i = 0;
        i < 100 &&
        valueOf(later, 'openspine_bus_deliveries_total', done) ===
          valueOf(before, 'openspine_bus_deliveries_total', done);
        i++
      ) {
        await new Promise((r) => setTimeout(r, 50));
        later = await scrapeText();
      }
      assert.equal(
        valueOf(later, 'openspine_bus_deliveries_total', done) -
          valueOf(before, 'openspine_bus_deliveries_total', done),
        1,
      );
      assert.equal(
        valueOf(later, 'openspine_bus_dead_letters', { consumer: 'notifications.router' }),
        0,
      );
    });

    it('counts a break-glass grant once, not its replay', async () => {
      const before = await scrapeText();
      const requestId = randomUUID();
      const grant = () =>
        platform.request({
          method: 'POST',
          url: '/security/FHIR/R4/$emergency-access',
          headers: { 'x-request-id': requestId },
          body: {
            resourceType: 'Parameters',
            parameter: [
              {
                name: 'patient',
                valueIdentifier: { system: 'https://fhir.nhs.uk/Id/nhs-number', value: NHS.jane },
              },
              { name: 'reasonCode', valueCode: 'unable-to-consent' },
              { name: 'reasonText', valueString: 'Unconscious on arrival' },
            ],
          },
        });
      assert.equal((await grant()).statusCode, 201);
      assert.equal((await grant()).statusCode, 201, 'the replay answers as the first did');
      const later = await scrapeText();
      assert.equal(
        valueOf(later, 'openspine_break_glass_total') -
          valueOf(before, 'openspine_break_glass_total'),
        1,
      );
    });

    it('a failed sign-in raises openspine_signin_failures_total', async () => {
      const portal = 'metrics-portal';
      const redirect = 'https://portal.example/callback';
      await new UserDirectory(platform.repo).add({
        id: 'metrics-user',
        name: 'Metrics User',
        pin: '1234',
        profiles: [{ role: 'R8000', org: 'A81001' }],
      });
      await new ClientRegistry(platform.repo).add({
        id: portal,
        name: 'Metrics portal',
        kind: 'portal',
        redirectUris: [redirect],
      });
      const challenge = createHash('sha256').update(randomBytes(32)).digest('base64url');
      const query = new URLSearchParams({
        response_type: 'code',
        client_id: portal,
        redirect_uri: redirect,
        scope: 'openid profile',
        state: 's',
        nonce: 'n',
        code_challenge: challenge,
        code_challenge_method: 'S256',
      });
      const signInWith = async (
        pin: string,
        user = 'metrics-user',
      ): Promise<LightMyRequestResponse> => {
        const page = await platform.app.inject({
          method: 'GET',
          url: `/oauth2/authorize?${query}`,
        });
        const tx = /name="tx" value="([^"]+)"/.exec(page.body)?.[1];
        assert.ok(tx, page.body.slice(0, 300));
        return platform.app.inject({
          method: 'POST',
          url: '/oauth2/authorize',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          payload: new URLSearchParams({ step: 'login', tx, user, pin }).toString(),
        });
      };
      const wrong = { reason: 'wrong_credentials' };
      const before = await scrapeText();
      assert.equal((await signInWith('0000')).statusCode, 401);
      assert.equal((await signInWith('1234')).statusCode, 200);
      // the throttle locks an id after five failures (unknown ids alike); the sixth try is refused as locked
      const stranger = `nobody-${randomBytes(4).toString('hex')}`;
      for (let i = 0; i < 5; i++)
        assert.equal((await signInWith('0000', stranger)).statusCode, 401);
      assert.equal((await signInWith('0000', stranger)).statusCode, 429);
      const later = await scrapeText();
      const rise = (name: string, labels: Record<string, string> = {}) =>
        valueOf(later, name, labels) - valueOf(before, name, labels);
      assert.equal(rise('openspine_signin_failures_total', wrong), 6);
      assert.equal(rise('openspine_signin_failures_total', { reason: 'locked' }), 1);
      assert.equal(rise('openspine_signin_lockouts_total'), 1);
    });
  });
}

describe('GET /metrics on the NATS bus', () => {
  it('shows the messages waiting in the outbox while NATS cannot be reached', async () => {
    const [kind] = await storesUnderTest();
    const platform = await startTestPlatform(kind, {
      config: {
        messaging: 'nats',
        natsUrl: 'nats://127.0.0.1:1',
        metrics: { enabled: true, scrapeToken: SCRAPE_TOKEN },
      },
    });
    try {
      await commitPatients(platform.repo, [currentJane()]);
      const read = await platform.request({ url: `${PDS}/Patient/${NHS.jane}` });
      const res = await platform.request({
        method: 'PATCH',
        url: `${PDS}/Patient/${NHS.jane}`,
        headers: { 'if-match': `W/"${read.json().meta.versionId}"` },
        contentType: 'application/json-patch+json',
        body: {
          patches: [
            { op: 'test', path: '/address/0/id', value: read.json().address[0].id },
            { op: 'replace', path: '/address/0/postalCode', value: 'LS1 4BU' },
          ],
        },
      });
      assert.equal(res.statusCode, 200, res.body.slice(0, 300));
      const scrape = await platform.app.inject({
        method: 'GET',
        url: '/metrics',
        headers: { authorization: `Bearer ${SCRAPE_TOKEN}` },
      });
      assert.equal(scrape.statusCode, 200);
      const unrelayed = (await platform.repo.messaging.queueStats()).unrelayed;
      assert.ok(unrelayed >= 1, 'the address change waits in the outbox');
      assert.equal(valueOf(scrape.body, 'openspine_outbox_depth'), unrelayed);
      assert.ok(valueOf(scrape.body, 'openspine_outbox_relay_lag_seconds') >= 0);
    } finally {
      await platform.close();
    }
  });
});

describe('--metrics off', () => {
  let platform: TestPlatform;
  before(async () => {
    const [kind] = await storesUnderTest();
    platform = await startTestPlatform(kind, {
      config: { metrics: { enabled: false, scrapeToken: SCRAPE_TOKEN } },
    });
  });
  after(() => platform?.close());

  it('answers /metrics 404 saying so, and the scrape token opens nothing', async () => {
    const res = await platform.app.inject({
      method: 'GET',
      url: '/metrics',
      headers: { authorization: `Bearer ${await platform.token('R8015')}` },
    });
    assert.equal(res.statusCode, 404, res.body);
    assert.match(res.json().issue[0].diagnostics, /switched off/);
    const scraper = await platform.app.inject({
      method: 'GET',
      url: '/metrics',
      headers: { authorization: `Bearer ${SCRAPE_TOKEN}` },
    });
    assert.equal(scraper.statusCode, 401, scraper.body);
  });

  it('registers no metrics hook', () => {
    const routes = platform.app.printRoutes({ includeHooks: true });
    assert.match(routes, /onRequest/, 'the listing shows hooks');
    assert.doesNotMatch(routes, /metricsRequestStart|metricsResponse/);
  });
});

describe('--metrics on registers its hooks', () => {
  it('the hooks --metrics off leaves out', async () => {
    const [kind] = await storesUnderTest();
    const platform = await startTestPlatform(kind, {
      config: { metrics: { enabled: true, scrapeToken: null } },
    });
    try {
      assert.match(platform.app.printRoutes({ includeHooks: true }), /metricsRequestStart/);
    } finally {
      await platform.close();
    }
  });
});
