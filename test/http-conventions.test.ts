/**
 * The HTTP conventions every PDS call goes through: X-Request-ID / X-Correlation-ID, bearer tokens
 * and roles, public endpoints, body limits and the OperationOutcome shape of every refusal.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { generateKeyPair, importJWK, SignJWT } from 'jose';
import { EMBEDDED_ISSUER, mintToken } from '../src/security/embedded-idp.js';
import { startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';
import {
  assertNoInternals,
  assertOutcome,
  commitPatients,
  currentJane,
  fixture,
  mergeBody,
  NHS,
  PDS,
} from './helpers/pds-fixtures.js';

const AUDIENCE = 'openspine';

/** A token signed with `key` carrying the given claims; by default a valid R8000 token of the embedded issuer. */
async function signToken(
  key: CryptoKey | Uint8Array | Parameters<SignJWT['sign']>[0],
  kid: string,
  claims: {
    exp?: number;
    iat?: number;
    aud?: string;
    iss?: string;
    role?: string | null;
    org?: string;
  } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = { org: claims.org ?? 'A81001', sid: randomUUID() };
  if (claims.role !== null) payload.role = claims.role ?? 'R8000';
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' })
    .setIssuer(claims.iss ?? EMBEDDED_ISSUER)
    .setSubject('jose-user')
    .setAudience(claims.aud ?? AUDIENCE)
    .setIssuedAt(claims.iat ?? now)
    .setExpirationTime(claims.exp ?? now + 600)
    .sign(key);
}

for (const kind of await storesUnderTest()) {
  describe(`HTTP conventions (${kind})`, () => {
    let platform: TestPlatform;
    const readUrl = `${PDS}/Patient/${NHS.jane}`;

    before(async () => {
      platform = await startTestPlatform(kind);
      await commitPatients(platform.repo, [currentJane()]);
    });
    after(async () => {
      await platform?.close();
    });

    describe('X-Request-ID and X-Correlation-ID', () => {
      it('a FHIR call without X-Request-ID is 400 MISSING_VALUE', async () => {
        const token = await platform.token();
        const res = await platform.app.inject({
          method: 'GET',
          url: readUrl,
          headers: { authorization: `Bearer ${token}` },
        });
        assertOutcome(res, 400, 'MISSING_VALUE');
      });

      it('a malformed X-Request-ID is 400 INVALID_VALUE', async () => {
        for (const bad of [
          'not-a-uuid',
          '12345',
          `${randomUUID()}x`,
          randomUUID().replace(/-/g, ''),
        ]) {
          const res = await platform.request({ url: readUrl, headers: { 'x-request-id': bad } });
          assertOutcome(res, 400, 'INVALID_VALUE');
        }
      });

      it('echoes X-Request-ID and X-Correlation-ID on success and on errors', async () => {
        const requestId = randomUUID();
        const ok = await platform.request({
          url: readUrl,
          headers: { 'x-request-id': requestId, 'x-correlation-id': 'corr-abc-123' },
        });
        assert.equal(ok.statusCode, 200);
        assert.equal(ok.headers['x-request-id'], requestId);
        assert.equal(ok.headers['x-correlation-id'], 'corr-abc-123');

        const errorId = randomUUID();
        const notFound = await platform.request({
          url: `${PDS}/Patient/${NHS.notFound}`,
          headers: { 'x-request-id': errorId, 'x-correlation-id': 'corr-err' },
        });
        assertOutcome(notFound, 404, 'RESOURCE_NOT_FOUND');
        assert.equal(notFound.headers['x-request-id'], errorId);
        assert.equal(notFound.headers['x-correlation-id'], 'corr-err');
      });

      it('no X-Correlation-ID is sent back when none was given', async () => {
        const res = await platform.request({ url: readUrl });
        assert.equal(res.statusCode, 200);
        assert.equal(res.headers['x-correlation-id'], undefined);
      });
    });

    describe('public endpoints', () => {
      it('/_ping and /_status answer without a token or request id', async () => {
        const ping = await platform.app.inject({ method: 'GET', url: '/_ping' });
        assert.equal(ping.statusCode, 200);
        assert.equal(ping.json().status, 'pass');
        const status = await platform.app.inject({ method: 'GET', url: '/_status' });
        assert.equal(status.statusCode, 200);
        assert.equal(status.json().status, 'pass');
        assert.equal(status.json().store, kind);
        assert.equal(status.json().patients, 1);
      });

      it('GET metadata is a CapabilityStatement without a token', async () => {
        const res = await platform.request({ url: `${PDS}/metadata`, token: null });
        assert.equal(res.statusCode, 200);
        assert.match(String(res.headers['content-type']), /^application\/fhir\+json/);
        const cs = res.json();
        assert.equal(cs.resourceType, 'CapabilityStatement');
        assert.equal(cs.fhirVersion, '4.0.1');
        assert.ok(
          cs.rest[0].resource.some((r: { type: string }) => r.type === 'Patient'),
          "cs.rest[0].resource.some((r: { type: string }) => r.type === 'Patient')",
        );
      });

      it('an unknown route is a 404 OperationOutcome; under PDS a 400 "Unsupported path"', async () => {
        assertOutcome(await platform.request({ url: '/no/such/route' }), 404, 'RESOURCE_NOT_FOUND');
        // as PDS answers (NHSDigital/personal-demographics-service-api karate-tests patients/requestErrors.feature,
        // "Make request to endpoint that is not supported": 400, diagnostics "Unsupported path - '/HelloWorld'")
        for (const path of ['/Nothing/here', `/Patient/${NHS.jane}/Observation`]) {
          const body = assertOutcome(
            await platform.request({ url: PDS + path }),
            400,
            'UNSUPPORTED_SERVICE',
          );
          assert.equal(body.issue[0].diagnostics, `Unsupported path - '${path}'`);
        }
      });
    });

    describe('authentication', () => {
      it('a valid token is accepted (control for the refusals below)', async () => {
        const key = await importJWK(platform.key.privateJwk, 'ES256');
        const res = await platform.request({
          url: readUrl,
          token: await signToken(key, platform.key.kid),
        });
        assert.equal(res.statusCode, 200, res.body);
        assert.equal(res.json().id, NHS.jane);
      });

      it('no token is 401 ACCESS_DENIED', async () => {
        assertOutcome(await platform.request({ url: readUrl, token: null }), 401, 'ACCESS_DENIED');
      });

      it('a garbage or non-Bearer Authorization is 401 ACCESS_DENIED', async () => {
        for (const token of ['garbage', 'a.b.c', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.']) {
          assertOutcome(await platform.request({ url: readUrl, token }), 401, 'ACCESS_DENIED');
        }
        const basic = await platform.app.inject({
          method: 'GET',
          url: readUrl,
          headers: { 'x-request-id': randomUUID(), authorization: 'Basic dXNlcjpwYXNz' },
        });
        assertOutcome(basic, 401, 'ACCESS_DENIED');
      });

      it('a token signed by a different key is 401, whatever kid it claims', async () => {
        const { privateKey } = await generateKeyPair('ES256');
        assertOutcome(
          await platform.request({
            url: readUrl,
            token: await signToken(privateKey, platform.key.kid),
          }),
          401,
          'ACCESS_DENIED',
        );
        assertOutcome(
          await platform.request({ url: readUrl, token: await signToken(privateKey, 'other-kid') }),
          401,
          'ACCESS_DENIED',
        );
      });

      it('an expired token is 401', async () => {
        const key = await importJWK(platform.key.privateJwk, 'ES256');
        const now = Math.floor(Date.now() / 1000);
        const res = await platform.request({
          url: readUrl,
          token: await signToken(key, platform.key.kid, { iat: now - 3600, exp: now - 60 }),
        });
        const body = assertOutcome(res, 401, 'ACCESS_DENIED');
        assert.match(body.issue[0].diagnostics, /expired/i);
      });

      it('a token accepted once is refused after it expires (no stale cache)', async () => {
        const token = await platform.token('R8000', { ttlSeconds: 2 });
        assert.equal((await platform.request({ url: readUrl, token })).statusCode, 200);
        const exp = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString())
          .exp as number;
        const wait = exp * 1000 - Date.now() + 1100;
        await new Promise((r) => setTimeout(r, Math.max(wait, 0)));
        assertOutcome(await platform.request({ url: readUrl, token }), 401, 'ACCESS_DENIED');
      });

      it('a token for another audience or issuer is 401', async () => {
        const key = await importJWK(platform.key.privateJwk, 'ES256');
        const otherAudience = await mintToken(platform.key, {
          userId: 'u1',
          role: 'R8000',
          org: 'A81001',
          audience: 'someone-else',
        });
        assertOutcome(
          await platform.request({ url: readUrl, token: otherAudience }),
          401,
          'ACCESS_DENIED',
        );
        assertOutcome(
          await platform.request({
            url: readUrl,
            token: await signToken(key, platform.key.kid, { iss: 'https://evil.example' }),
          }),
          401,
          'ACCESS_DENIED',
        );
      });

      it('a token without a role profile is 401', async () => {
        const key = await importJWK(platform.key.privateJwk, 'ES256');
        assertOutcome(
          await platform.request({
            url: readUrl,
            token: await signToken(key, platform.key.kid, { role: null }),
          }),
          401,
          'ACCESS_DENIED',
        );
      });
    });

    describe('authorisation', () => {
      it('an unknown role is 403 ACCESS_DENIED', async () => {
        const token = await platform.token('R9999');
        assertOutcome(await platform.request({ url: readUrl, token }), 403, 'ACCESS_DENIED');
        assertOutcome(
          await platform.request({
            url: `${PDS}/Patient?family=Smith&birthdate=eq2010-10-22`,
            token,
          }),
          403,
          'ACCESS_DENIED',
        );
      });

      it('a role without the activity is 403: R8000 cannot $merge, R8003 cannot update', async () => {
        const merge = await platform.request({
          method: 'POST',
          url: `${PDS}/Patient/$merge`,
          body: mergeBody(NHS.jane, NHS.jayne),
        });
        assertOutcome(merge, 403, 'ACCESS_DENIED');
        const patch = await platform.request({
          method: 'PATCH',
          url: readUrl,
          token: await platform.token('R8003'),
          headers: { 'if-match': 'W/"1"' },
          contentType: 'application/json-patch+json',
          body: { patches: [{ op: 'replace', path: '/gender', value: 'male' }] },
        });
        assertOutcome(patch, 403, 'ACCESS_DENIED');
        const after = await platform.request({ url: readUrl });
        assert.equal(after.json().gender, 'female');
        assert.equal(after.headers.etag, 'W/"1"');
      });
    });

    describe('request bodies', () => {
      it('a body over the limit (2 MB) is 413', async () => {
        const big = {
          ...fixture('requests/PatientCreate/create-patient.json'),
          padding: 'x'.repeat(2 * 1024 * 1024),
        };
        const res = await platform.request({ method: 'POST', url: `${PDS}/Patient`, body: big });
        assertOutcome(res, 413, 'MESSAGE_TOO_LARGE');
        const patch = await platform.request({
          method: 'PATCH',
          url: readUrl,
          headers: { 'if-match': 'W/"1"' },
          contentType: 'application/json-patch+json',
          body: {
            patches: [{ op: 'replace', path: '/gender', value: 'x'.repeat(2 * 1024 * 1024) }],
          },
        });
        assertOutcome(patch, 413, 'MESSAGE_TOO_LARGE');
      });

      it('an invalid JSON body is 400', async () => {
        for (const body of ['{"name": [', 'not json at all', '{"a":1}}']) {
          const res = await platform.request({ method: 'POST', url: `${PDS}/Patient`, body });
          assertOutcome(res, 400, 'INVALID_VALUE');
        }
        const patch = await platform.request({
          method: 'PATCH',
          url: readUrl,
          headers: { 'if-match': 'W/"1"' },
          contentType: 'application/json-patch+json',
          body: '{"patches": [',
        });
        assertOutcome(patch, 400, 'INVALID_VALUE');
      });

      it('an empty JSON body is 400', async () => {
        const res = await platform.app.inject({
          method: 'POST',
          url: `${PDS}/Patient`,
          headers: {
            'x-request-id': randomUUID(),
            authorization: `Bearer ${await platform.token()}`,
            'content-type': 'application/fhir+json',
          },
          payload: '',
        });
        assert.equal(res.statusCode, 400, res.body);
        assert.equal(res.json().resourceType, 'OperationOutcome');
        assertNoInternals(res);
      });

      it('an unsupported body media type is refused with an OperationOutcome', async () => {
        const res = await platform.request({
          method: 'POST',
          url: '/summary-care-record/FHIR/R4/Bundle',
          body: '<Bundle/>',
          contentType: 'application/xml',
        });
        assertOutcome(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
        // PDS answers 400 UNSUPPORTED_SERVICE (NHSDigital/personal-demographics-service-api karate-tests
        // healthcareWorker/updatePatientDetails/requestErrors.feature, "Invalid content-type header")
        const pds = await platform.request({
          method: 'POST',
          url: `${PDS}/Patient`,
          body: '<Patient/>',
          contentType: 'application/xml',
        });
        assertOutcome(pds, 400, 'UNSUPPORTED_SERVICE');
      });

      it('nothing was written by any refused request', async () => {
        assert.equal(await platform.repo.count('Patient'), 1);
        const res = await platform.request({ url: readUrl });
        assert.equal(res.headers.etag, 'W/"1"');
      });
    });
  });
}
