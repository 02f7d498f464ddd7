/**
 * Hostile input refused at the edge, each defect pinned by a test (test/fuzz-routes.test.ts finds
 * the kind; these say exactly what the answer is):
 * - JSON nested deeper than 64 or with too many elements is 400 INVALID_VALUE at the parser, on
 *   every API (it was a 500 from the services' recursive walkers);
 * - an unpaired surrogate escape is 400 UNSUPPORTED_CHARACTERS_IN_FIELD (on PostgreSQL its audit
 *   entry stopped the audit index, and every AuditEvent search answered 500);
 * - the OAuth endpoints answer any unreadable body with RFC 6749 invalid_request (it was a 500);
 * - the router's refusals (bad percent-encoding, an over-long path id) are OperationOutcomes (they
 *   were Fastify's own JSON, the second with status 414);
 * - a long reference in an SCR document is resolved in linear time (a backtracking regex was quadratic);
 * - while the server closes, requests get a 503 OperationOutcome (Fastify's own was a bare JSON body).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, type AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import {
  hasLoneSurrogate,
  JSON_MAX_DEPTH,
  jsonElementLimit,
  jsonShapeProblem,
} from '../src/fhir/json-limits.js';
import { startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';
import {
  assertOutcome,
  commitPatients,
  currentJane,
  fixture,
  NHS,
  PDS,
  repoRoot,
} from './helpers/pds-fixtures.js';

const arrays = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const objects = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

describe('JSON shape and character checks (units)', () => {
  it('depth: 64 levels pass, 65 do not, whatever nests', () => {
    assert.equal(jsonShapeProblem(arrays(JSON_MAX_DEPTH)), null);
    assert.equal(jsonShapeProblem(objects(JSON_MAX_DEPTH)), null);
    assert.equal(jsonShapeProblem(arrays(JSON_MAX_DEPTH + 1)), 'depth');
    assert.equal(jsonShapeProblem(`{"a":[${objects(JSON_MAX_DEPTH - 1)}]}`), 'depth');
    assert.equal(
      jsonShapeProblem(`[${arrays(JSON_MAX_DEPTH - 1)},${arrays(JSON_MAX_DEPTH - 1)}]`),
      null,
      'siblings do not add up',
    );
  });

  it('brackets, commas and escaped quotes inside strings do not count', () => {
    const text = JSON.stringify({
      s: '['.repeat(500) + ',"\\'.repeat(200_000),
      t: 'a\\"[[[[',
      u: '\\',
    });
    assert.equal(jsonShapeProblem(text), null);
    assert.equal(
      jsonShapeProblem(`["\\\\", ${arrays(JSON_MAX_DEPTH)}]`),
      'depth',
      'an escaped backslash ends before the quote that closes the string',
    );
  });

  it('elements: containers and commas count; the limit scales with the route body limit', () => {
    const zeros = (n: number) => `[${Array(n).fill(0).join(',')}]`;
    assert.equal(jsonShapeProblem(zeros(99_000)), null);
    assert.equal(jsonShapeProblem(zeros(100_001)), 'elements');
    assert.equal(jsonShapeProblem(`[${Array(60_000).fill('{}').join(',')}]`), 'elements');
    assert.equal(jsonElementLimit(1024 * 1024), 100_000);
    assert.equal(jsonElementLimit(64 * 1024), 100_000);
    assert.equal(jsonElementLimit(16 * 1024 * 1024), 1_600_000);
    assert.equal(
      jsonShapeProblem(zeros(150_000), JSON_MAX_DEPTH, jsonElementLimit(16 * 1024 * 1024)),
      null,
    );
  });

  it('malformed text is left for JSON.parse to refuse', () => {
    for (const text of ['"unterminated', '[[[', ']]]]', '{"a":"\\', ''])
      assert.equal(jsonShapeProblem(text), null, text);
  });

  it('an unpaired surrogate escape is found exactly (random documents against well-formedness of the parsed strings)', () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) >>> 0;
      return seed % n;
    };
    const pieces = [
      'a',
      '\\\\',
      '\\"',
      '\\n',
      '\\ud83d',
      '\\ude00',
      '\\uD83D\\uDE00',
      '\\ud800',
      '\\udfff',
      '\\u0041',
      'é',
      '😀',
      'u',
      'd800',
    ];
    const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
    const wellFormed = (v: unknown): boolean =>
      typeof v === 'string'
        ? !loneSurrogate.test(v)
        : Array.isArray(v)
          ? v.every(wellFormed)
          : true;
    for (let i = 0; i < 3000; i++) {
      const strings = Array.from(
        { length: 1 + rand(3) },
        () => `"${Array.from({ length: rand(6) }, () => pieces[rand(pieces.length)]).join('')}"`,
      );
      const text = `[${strings.join(',')}]`;
      assert.equal(hasLoneSurrogate(text), !wellFormed(JSON.parse(text)), text);
    }
  });
});

describe('a request that arrives while the server closes', () => {
  it("is 503 SERVICE_UNAVAILABLE as an OperationOutcome, not Fastify's own body", async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    const platform = await startTestPlatform('sqlite', {
      extraRoutes: (app) => {
        app.get('/probe/slow', { config: { public: true } }, async () => {
          await held;
          return { ok: true };
        });
      },
    });
    await platform.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = platform.app.server.address() as AddressInfo;
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk) => {
      received += chunk.toString('utf8');
    });
    const ended = new Promise((r) => socket.on('close', r));
    socket.write('GET /probe/slow HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((r) => setTimeout(r, 100));
    const closed = platform.app.close();
    // pipelined behind the request in flight: it reaches the platform once the server is closing
    socket.write(`GET /_ping HTTP/1.1\r\nHost: x\r\nX-Request-ID: ${randomUUID()}\r\n\r\n`);
    await new Promise((r) => setTimeout(r, 100));
    release();
    await closed;
    await Promise.race([ended, new Promise((r) => setTimeout(r, 2000))]);
    socket.destroy();
    await platform.repo.close();
    const second = received.slice(received.indexOf('HTTP/1.1', 1));
    assert.match(second, /^HTTP\/1\.1 503/, received);
    assert.match(second, /content-type: application\/fhir\+json/i);
    const body = JSON.parse(second.slice(second.indexOf('\r\n\r\n') + 4));
    assert.equal(body.issue[0].details.coding[0].code, 'SERVICE_UNAVAILABLE');
  });
});

for (const kind of await storesUnderTest()) {
  describe(`hostile input at the edge (${kind})`, () => {
    let platform: TestPlatform;
    let clinician: string;

    before(async () => {
      platform = await startTestPlatform(kind, {
        config: { rateLimit: { userPerMinute: 0, applicationPerMinute: 0 } },
      });
      await commitPatients(platform.repo, [currentJane()]);
      // Jane's registered practice: a legitimate relationship, so bodies reach the services
      clinician = await platform.token('R8000', { user: 'hostile-clinician', org: 'Y12345' });
    });
    after(() => platform.close());

    const post = (
      url: string,
      body: string,
      contentType = 'application/fhir+json',
      headers: Record<string, string> = {},
    ) => platform.request({ method: 'POST', url, token: clinician, body, contentType, headers });
    const createWith = (raw: string) =>
      JSON.stringify(fixture('requests/PatientCreate/create-patient.json')).replace(
        '"valueString":"RGS"',
        `"valueString":"RGS","extension":${raw}`,
      );

    describe('deeply nested and oversized JSON', () => {
      it('PDS create, PATCH, SCR upload, EPS prepare and process-message, GP2GP Task: 400 INVALID_VALUE, for 2,000 and 20,000 levels', async () => {
        const scr = readFileSync(
          resolve(repoRoot, 'test/fixtures/scr/gp-summary.Bundle.json'),
          'utf8',
        );
        const eps = readFileSync(
          resolve(repoRoot, 'test/fixtures/eps/prescription-order.Bundle.json'),
          'utf8',
        );
        for (const depth of [2000, 20_000]) {
          const calls: [string, () => Promise<LightMyRequestResponse>][] = [
            ['PDS create', () => post(`${PDS}/Patient`, createWith(arrays(depth)))],
            [
              'PDS patch',
              () =>
                platform.request({
                  method: 'PATCH',
                  url: `${PDS}/Patient/${NHS.jane}`,
                  token: clinician,
                  contentType: 'application/json-patch+json',
                  headers: { 'if-match': 'W/"1"' },
                  body: `{"patches":[{"op":"add","path":"/extension/-","value":${objects(depth)}}]}`,
                }),
            ],
            [
              'SCR upload',
              () =>
                post(
                  '/summary-care-record/FHIR/R4/Bundle',
                  scr.replace('"resourceType"', `"extension":${arrays(depth)},"resourceType"`),
                ),
            ],
            [
              'EPS prepare',
              () =>
                post(
                  '/electronic-prescriptions/FHIR/R4/$prepare',
                  eps.replace('"resourceType"', `"meta":${objects(depth)},"resourceType"`),
                ),
            ],
            [
              'EPS process-message',
              () =>
                post(
                  '/electronic-prescriptions/FHIR/R4/$process-message',
                  eps.replace('"resourceType"', `"meta":${arrays(depth)},"resourceType"`),
                ),
            ],
            [
              'GP2GP Task',
              () =>
                post(
                  '/gp2gp/FHIR/R4/Task',
                  `{"resourceType":"Task","status":"requested","intent":"order","input":${arrays(depth)}}`,
                ),
            ],
          ];
          for (const [name, call] of calls) {
            const outcome = assertOutcome(await call(), 400, 'INVALID_VALUE');
            assert.match(outcome.issue[0].diagnostics, /nested more than 64 levels deep/, name);
          }
        }
        assert.equal(await platform.repo.count('Patient'), 1, 'nothing was registered');
      });

      it('64 levels reach the service (which judges the content), 65 do not', async () => {
        const at = (depth: number) => post(`${PDS}/Patient`, createWith(arrays(depth - 5))); // the added key sits in an object at depth 5
        const ok = await at(JSON_MAX_DEPTH);
        assert.ok(ok.statusCode < 500, ok.body.slice(0, 200));
        assert.doesNotMatch(ok.body, /nested more than/);
        assert.match(
          assertOutcome(await at(JSON_MAX_DEPTH + 1), 400, 'INVALID_VALUE').issue[0].diagnostics,
          /nested more than 64/,
        );
      });

      it('more than 100,000 elements is 400; a route with a larger body limit (GP2GP $send, 16 MiB) allows proportionally more', async () => {
        const zeros = `[${Array(150_000).fill(0).join(',')}]`;
        const refused = assertOutcome(
          await post(`${PDS}/Patient`, createWith(zeros)),
          400,
          'INVALID_VALUE',
        );
        assert.match(refused.issue[0].diagnostics, /more than 100000 elements/);
        const send = await post(
          `/gp2gp/FHIR/R4/Task/${randomUUID()}/$send`,
          `{"resourceType":"Parameters","parameter":${zeros}}`,
        );
        assert.ok(send.statusCode < 500, send.body.slice(0, 200));
        assert.doesNotMatch(
          send.body,
          /elements|nested/,
          'the parser let it through to the service',
        );
      });

      it('a bulk import line nested too deep is rejected with its reason, the others imported', async () => {
        const admin = await platform.token('R8015', { user: 'hostile-admin' });
        const patient = (nhs: string, extra = '') =>
          JSON.stringify({
            resourceType: 'Patient',
            id: nhs,
            identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: nhs }],
          }).replace(/}$/, `${extra}}`);
        const res = await platform.request({
          method: 'POST',
          url: '/bulk/FHIR/R4/$import',
          token: admin,
          contentType: 'application/fhir+ndjson',
          body: [
            patient('9000000041'),
            patient('9000000068', `,"x":${arrays(20_000)}`),
            patient('9000000076', ',"name":[{"text":"\\udc00"}]'),
          ].join('\n'),
        });
        assert.equal(res.statusCode, 200, res.body.slice(0, 300));
        const issues = res
          .json()
          .issue.map((i: { diagnostics: string }) => i.diagnostics)
          .join(' | ');
        assert.match(issues, /line 2: nested more than 64 levels deep/);
        assert.match(issues, /line 3: contains an unpaired UTF-16 surrogate escape/);
        assert.deepEqual(
          (await platform.repo.readMany('Patient', ['9000000041', '9000000068', '9000000076'])).map(
            (p) => p.id,
          ),
          ['9000000041'],
        );
      });
    });

    it('a long reference in an SCR upload is answered at once (the reference regex was quadratic: 600 KB took minutes of CPU)', async () => {
      const bundle = JSON.parse(
        readFileSync(resolve(repoRoot, 'test/fixtures/scr/gp-summary.Bundle.json'), 'utf8'),
      );
      bundle.entry[0].resource.subject.reference = 'x'.repeat(600_000);
      const started = Date.now();
      const res = await post('/summary-care-record/FHIR/R4/Bundle', JSON.stringify(bundle));
      assert.ok(res.statusCode >= 400 && res.statusCode < 500, res.body.slice(0, 200));
      assert.ok(Date.now() - started < 2000, `answered in ${Date.now() - started} ms`);
    });

    it('an unpaired surrogate escape is refused before it reaches a record or the audit trail; audit search still works', async () => {
      for (const reason of ['evil\\ud800', '\\udfff', 'a\\ud83d b']) {
        const res = await post(
          '/security/FHIR/R4/$claim-relationship',
          `{"resourceType":"Parameters","parameter":[{"name":"patient","valueIdentifier":{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"${NHS.jane}"}},{"name":"reason","valueString":"${reason}"}]}`,
        );
        assertOutcome(res, 400, 'UNSUPPORTED_CHARACTERS_IN_FIELD');
      }
      const paired = await post(
        '/security/FHIR/R4/$claim-relationship',
        `{"resourceType":"Parameters","parameter":[{"name":"patient","valueIdentifier":{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"${NHS.jane}"}},{"name":"reason","valueString":"seen today \\ud83d\\ude00"}]}`,
      );
      assert.equal(
        paired.statusCode,
        201,
        `an escaped pair is ordinary text: ${paired.body.slice(0, 200)}`,
      );
      const officer = await platform.token('R5080', { user: 'hostile-officer', org: 'X26' });
      const search = await platform.request({
        url: `/security/FHIR/R4/AuditEvent?patient=${NHS.jane}`,
        token: officer,
      });
      assert.equal(search.statusCode, 200, search.body.slice(0, 300));
    });

    describe('the OAuth endpoints', () => {
      const send = (url: string, payload: string | Buffer, contentType: string) =>
        platform.app.inject({
          method: 'POST',
          url,
          headers: { 'content-type': contentType },
          payload,
        });

      function assertInvalidRequest(res: LightMyRequestResponse, about: string) {
        assert.equal(res.statusCode, 400, `${about}: ${res.statusCode} ${res.body.slice(0, 200)}`);
        assert.match(String(res.headers['content-type']), /^application\/json/, about);
        assert.equal(res.headers['cache-control'], 'no-store', about);
        const body = res.json();
        assert.equal(body.error, 'invalid_request', about);
        assert.match(
          body.error_description,
          /^[\x20\x21\x23-\x5B\x5D-\x7E]+$/,
          `${about}: RFC 6749 error_description characters`,
        );
      }

      it('/oauth2/token and /oauth2/revoke: JSON of any shape, NUL, surrogates, bad form encoding and oversized bodies are invalid_request', async () => {
        for (const url of ['/oauth2/token', '/oauth2/revoke']) {
          for (const [about, payload, type] of [
            ['JSON', '{"grant_type":"client_credentials"}', 'application/json'],
            ['invalid JSON', '{"grant_type":', 'application/json'],
            ['FHIR JSON', '{', 'application/fhir+json'],
            ['nested JSON', arrays(5000), 'application/json'],
            ['JSON with NUL', '{"a":"\\u0000"}', 'application/json'],
            ['JSON with a lone surrogate', '{"a":"\\ud800"}', 'application/json'],
            ['empty JSON', '', 'application/json'],
            [
              'bad form encoding',
              'grant_type=%E0%A4%A&token=%',
              'application/x-www-form-urlencoded',
            ],
            [
              'repeated parameters',
              'grant_type=client_credentials&grant_type=refresh_token&token=a&token=b',
              'application/x-www-form-urlencoded',
            ],
            [
              'a form over 64 KiB',
              `token=${'x'.repeat(70_000)}`,
              'application/x-www-form-urlencoded',
            ],
            ['XML', '<token/>', 'application/xml'],
            ['an invalid content type', 'a=1', ';;'],
          ] as const) {
            assertInvalidRequest(await send(url, payload, type), `${url} ${about}`);
          }
        }
      });

      it('/oauth2/authorize answers an unreadable body with an HTML error page, never a 500', async () => {
        for (const [payload, type] of [
          ['{', 'application/json'],
          [arrays(5000), 'application/json'],
          ['step=login&tx=%', 'application/x-www-form-urlencoded'],
        ]) {
          const res = await send('/oauth2/authorize', payload, type);
          assert.equal(res.statusCode, 400, res.body.slice(0, 200));
          assert.match(String(res.headers['content-type']), /^text\/html/);
        }
      });
    });

    describe("the router's refusals", () => {
      it('bad percent-encoding in the path is 400 INVALID_VALUE, with the request ids echoed', async () => {
        for (const url of [
          `${PDS}/Patient/%E0%A4%A`,
          `${PDS}/Patient/%`,
          `${PDS}/Patient/9000000009/%zz`,
          '/oauth2/token%E0',
          '/_ping/%',
        ]) {
          const requestId = randomUUID();
          const res = await platform.request({
            url,
            headers: { 'x-request-id': requestId, 'x-correlation-id': 'c-1' },
          });
          assertOutcome(res, 400, 'INVALID_VALUE');
          assert.equal(res.headers['x-request-id'], requestId);
          assert.equal(res.headers['x-correlation-id'], 'c-1');
          assert.doesNotMatch(res.body, /FST_ERR|statusCode/);
        }
      });

      it('a path id over the router limit is 400 INVALID_RESOURCE_ID, not a bare 414', async () => {
        for (const [method, url] of [
          ['GET', `${PDS}/Patient/${'9'.repeat(101)}`],
          ['PATCH', `${PDS}/Patient/${'9'.repeat(5000)}`],
          ['GET', `/gp2gp/FHIR/R4/Task/${'a'.repeat(200)}/$ehr`],
          ['HEAD', `/spine-directory/FHIR/R4/Organization/${'A'.repeat(300)}`],
        ]) {
          const res = await platform.request({ method, url });
          assert.equal(res.statusCode, 400, `${method} ${url.slice(0, 60)}: ${res.statusCode}`);
          assert.match(String(res.headers['content-type']), /^application\/fhir\+json/);
          if (method !== 'HEAD') assertOutcome(res, 400, 'INVALID_RESOURCE_ID');
        }
      });

      it('unknown methods and paths are OperationOutcomes', async () => {
        // PDS answers a method its paths do not take as 400 UNSUPPORTED_SERVICE
        // (NHSDigital/personal-demographics-service-api
        // karate-tests patients/requestErrors.feature, "Make invalid put request to get patient endpoint")
        for (const method of ['OPTIONS', 'PROPFIND', 'TRACE', 'DELETE'])
          assertOutcome(
            await platform.request({ method, url: `${PDS}/Patient/${NHS.jane}` }),
            400,
            'UNSUPPORTED_SERVICE',
          );
        assertOutcome(
          await platform.request({ url: '/oauth2/nowhere' }),
          404,
          'RESOURCE_NOT_FOUND',
        );
      });
    });
  });
}
