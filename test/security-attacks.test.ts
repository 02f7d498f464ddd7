/**
 * Hostile input against the security layer: forged and broken tokens, role escalation, injection
 * strings in every search parameter, oversized headers and bodies. Each must get the right 4xx
 * OperationOutcome, leave an audit entry, and give nothing away in its message.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPair, importJWK, SignJWT } from 'jose';
import type { LightMyRequestResponse } from 'fastify';
import { EMBEDDED_ISSUER, mintApplicationToken } from '../src/security/embedded-idp.js';
import { startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';
import { assertOutcome, commitPatients, currentJane, NHS, PDS } from './helpers/pds-fixtures.js';

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

const INJECTIONS = [
  "' OR '1'='1",
  "'; DROP TABLE resources; --",
  'Smith" OR 1=1 --',
  '%27%20OR%201%3D1',
  '{"$gt":""}',
  '{"__proto__":{"admin":true}}',
  '../../../../etc/passwd',
  '<script>alert(1)</script>',
  'Smith\u0000',
  '*',
  '%',
  '_',
  'a'.repeat(5000),
  '\\',
  'NULL',
  '1e309',
  '-1',
];
const SEARCH_PARAMS = [
  'family',
  'given',
  'gender',
  'birthdate',
  'death-date',
  'address-postalcode',
  'address-postcode',
  'general-practitioner',
  'email',
  'phone',
  '_fuzzy-match',
  '_exact-match',
  '_history',
  '_max-results',
];

/** No stack traces, SQL, file paths or token text in what the caller sees. */
function assertNothingLeaked(res: LightMyRequestResponse, token?: string) {
  assert.doesNotMatch(
    res.body,
    /\bat .+\.(ts|js):\d+|SELECT |INSERT |sqlite|postgres|node_modules|\/work\//i,
    `no internals in: ${res.body.slice(0, 200)}`,
  );
  const payload = token?.split('.')[1];
  if (payload && payload.length > 16)
    assert.ok(!res.body.includes(payload), 'the token is not echoed');
}

for (const kind of await storesUnderTest()) {
  describe(`attacks on the security layer (${kind})`, () => {
    let platform: TestPlatform;
    let sign: (
      claims: Record<string, unknown>,
      opts?: { iss?: string; aud?: string; exp?: number; nbf?: number; alg?: string },
    ) => Promise<string>;

    before(async () => {
      platform = await startTestPlatform(kind, {
        config: {
          rateLimit: { userPerMinute: 0, applicationPerMinute: 0 },
          bodyLimitBytes: 64 * 1024,
        },
      });
      await commitPatients(platform.repo, [currentJane()]);
      const key = await importJWK(platform.key.privateJwk, 'ES256');
      sign = (claims, opts = {}) => {
        const now = Math.floor(Date.now() / 1000);
        return new SignJWT({ role: 'R8000', org: 'A81001', sid: randomUUID(), ...claims })
          .setProtectedHeader({ alg: 'ES256', kid: platform.key.kid })
          .setIssuer(opts.iss ?? EMBEDDED_ISSUER)
          .setAudience(opts.aud ?? 'openspine')
          .setSubject('mallory')
          .setIssuedAt(now - 10)
          .setNotBefore(opts.nbf ?? now - 10)
          .setExpirationTime(opts.exp ?? now + 600)
          .setJti(randomUUID())
          .sign(key);
      };
    });
    after(() => platform.close());

    const read = (token: string) => platform.request({ url: `${PDS}/Patient/${NHS.jane}`, token });

    async function assertRefusedAndAudited(token: string, why: RegExp) {
      const before = (await platform.repo.audit.auditHead()).seq;
      const res = await read(token);
      const outcome = assertOutcome(res, 401, 'ACCESS_DENIED');
      assert.match(outcome.issue[0].diagnostics, why);
      assertNothingLeaked(res, token);
      // the refusal is group-committed: it is in the trail once the answer has been sent
      const entries = await platform.repo.audit.readAudit(before, 100);
      assert.ok(
        entries.some(
          (e) =>
            e.record.userId === 'unauthenticated' &&
            e.record.outcome === 'refused 401 ACCESS_DENIED' &&
            e.record.action === 'pds.read',
        ),
        `an audit entry records the refused attempt: ${JSON.stringify(entries.map((e) => e.record.outcome))}`,
      );
    }

    describe('forged and broken tokens', () => {
      it('expired', async () => {
        const now = Math.floor(Date.now() / 1000);
        await assertRefusedAndAudited(await sign({}, { exp: now - 60 }), /expired/);
      });
      it('not yet valid', async () => {
        await assertRefusedAndAudited(
          await sign({}, { nbf: Math.floor(Date.now() / 1000) + 3600 }),
          /nbf|invalid/,
        );
      });
      it('wrong issuer', async () => {
        await assertRefusedAndAudited(
          await sign({}, { iss: 'https://evil.example/idp' }),
          /issuer is not trusted/,
        );
      });
      it('wrong audience', async () => {
        await assertRefusedAndAudited(await sign({}, { aud: 'some-other-api' }), /aud/);
      });
      it('alg none', async () => {
        const now = Math.floor(Date.now() / 1000);
        const token = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ iss: EMBEDDED_ISSUER, aud: 'openspine', sub: 'mallory', role: 'R8013', org: 'A81001', exp: now + 600 })}.`;
        await assertRefusedAndAudited(token, /algorithm|invalid/);
      });
      it('HS256 signed with the public key (algorithm confusion)', async () => {
        const secret = new TextEncoder().encode(JSON.stringify(platform.key.publicJwk));
        const token = await new SignJWT({ role: 'R8013', org: 'A81001' })
          .setProtectedHeader({ alg: 'HS256' })
          .setIssuer(EMBEDDED_ISSUER)
          .setAudience('openspine')
          .setSubject('mallory')
          .setExpirationTime('10m')
          .sign(secret);
        await assertRefusedAndAudited(token, /algorithm|invalid/);
      });
      it('tampered claims (role raised after signing)', async () => {
        const good = await sign({ role: 'R8008' });
        const [h, p, s] = good.split('.');
        const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
        await assertRefusedAndAudited(
          `${h}.${b64({ ...claims, role: 'R8013' })}.${s}`,
          /signature/,
        );
      });
      it('signed with another key', async () => {
        const { privateKey } = await generateKeyPair('ES256');
        const token = await new SignJWT({ role: 'R8000', org: 'A81001' })
          .setProtectedHeader({ alg: 'ES256', kid: platform.key.kid })
          .setIssuer(EMBEDDED_ISSUER)
          .setAudience('openspine')
          .setSubject('mallory')
          .setExpirationTime('10m')
          .sign(privateKey);
        await assertRefusedAndAudited(token, /signature/);
      });
      it('no role profile, a staff token claiming the patient role, garbage', async () => {
        await assertRefusedAndAudited(await sign({ role: undefined }), /role profile/);
        await assertRefusedAndAudited(await sign({ role: 'patient' }), /role profile/);
        await assertRefusedAndAudited('not.a.jwt', /not a JWT|invalid/i); // PDS's published words: 'Invalid Access Token'
      });
      it('missing or malformed Authorization header', async () => {
        assertOutcome(
          await platform.request({ url: `${PDS}/Patient/${NHS.jane}`, token: null }),
          401,
          'ACCESS_DENIED',
        );
        assertOutcome(
          await platform.request({
            url: `${PDS}/Patient/${NHS.jane}`,
            token: null,
            headers: { authorization: 'Basic YWRtaW46YWRtaW4=' },
          }),
          401,
          'ACCESS_DENIED',
        );
      });
    });

    describe('role escalation', () => {
      it("a token for one role cannot perform another role's activity, and the attempt is audited", async () => {
        const admin = await platform.token('R8008', { user: 'escalator' });
        const res = await platform.request({
          method: 'POST',
          url: `${PDS}/Patient/$merge`,
          token: admin,
          body: {},
        });
        assertOutcome(res, 403, 'ACCESS_DENIED');
        const student = await platform.token('R8004', { user: 'escalator' });
        assertOutcome(
          await platform.request({
            method: 'PATCH',
            url: `${PDS}/Patient/${NHS.jane}`,
            token: student,
            headers: { 'if-match': 'W/"1"' },
            body: { patches: [] },
            contentType: 'application/json-patch+json',
          }),
          403,
          'ACCESS_DENIED',
        );
        const officer = await platform.token('R5080', { user: 'escalator' });
        assertOutcome(await read(officer), 403, 'ACCESS_DENIED');
        const entries = (await platform.repo.audit.readAudit(0, 100_000)).filter(
          (e) => e.record.userId === 'escalator',
        );
        assert.deepEqual(
          entries.map((e) => `${e.record.role} ${e.record.action} ${e.record.outcome}`).sort(),
          [
            'R5080 pds.read refused 403 ACCESS_DENIED',
            'R8004 pds.update refused 403 ACCESS_DENIED',
            'R8008 pds.merge refused 403 ACCESS_DENIED',
          ],
        );
      });

      it('an application token cannot gain a role by carrying role claims', async () => {
        const key = await importJWK(platform.key.privateJwk, 'ES256');
        const token = await new SignJWT({
          subject_type: 'application',
          scope: 'pds.read',
          org: 'A81001',
          role: 'R8013',
        })
          .setProtectedHeader({ alg: 'ES256', kid: platform.key.kid })
          .setIssuer(EMBEDDED_ISSUER)
          .setAudience('openspine')
          .setSubject('app-x')
          .setExpirationTime('10m')
          .sign(key);
        assert.equal((await read(token)).statusCode, 200);
        // PDS words an application's write as its gateway does: INVALID_METHOD, with the policy's reason
        const merge = await platform.request({
          method: 'POST',
          url: `${PDS}/Patient/$merge`,
          token,
          body: {},
        });
        assertOutcome(merge, 403, 'INVALID_METHOD');
        assert.match(
          merge.json().issue[0].diagnostics,
          /Application app-x is not permitted to perform 'pds.merge'/,
        );
      });

      it('unknown scopes in an application token grant nothing', async () => {
        const token = await mintApplicationToken(platform.key, {
          clientId: 'app-y',
          name: 'Y',
          org: 'A81001',
          scopes: ['admin', '*', 'pds.*'],
          audience: 'openspine',
        });
        assertOutcome(await read(token), 403, 'ACCESS_DENIED');
      });
    });

    describe('injection strings in every search parameter', () => {
      it('are refused with a 4xx or match nothing, never a 500, and change nothing', async () => {
        const token = await platform.token('R8000');
        const countBefore = await platform.repo.count('Patient');
        const statuses = new Map<number, number>();
        for (const param of SEARCH_PARAMS) {
          for (const value of INJECTIONS) {
            // with a family name and birth date so the parameter under attack reaches the search itself
            const query = new URLSearchParams({ family: 'Smith', birthdate: 'eq2010-10-22' });
            query.set(param, value);
            const res = await platform.request({ url: `${PDS}/Patient?${query}`, token });
            statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
            assert.ok(
              res.statusCode < 500,
              `${param}=${value.slice(0, 30)} answered ${res.statusCode}`,
            );
            if (res.statusCode >= 400) {
              assert.equal(
                res.json().resourceType,
                'OperationOutcome',
                `${param}: an OperationOutcome`,
              );
              assertNothingLeaked(res);
            } else {
              assert.equal(res.json().resourceType, 'Bundle');
            }
          }
        }
        assert.ok(
          (statuses.get(400) ?? 0) > 0,
          `some values are refused as invalid: ${JSON.stringify([...statuses])}`,
        );
        assert.equal(
          await platform.repo.count('Patient'),
          countBefore,
          'no patient was added or removed',
        );
        assert.equal((await read(token)).statusCode, 200, 'the store still answers');
      });

      it('in every AuditEvent search parameter: 4xx or an empty page, never a 500, the trail unchanged', async () => {
        const officer = await platform.token('R5080', { user: 'officer-injection', org: 'X26' });
        const headBefore = await platform.repo.audit.auditHead();
        for (const param of [
          'patient',
          'agent',
          'user',
          'org',
          'action',
          'type',
          'date',
          '_count',
          '_cursor',
        ]) {
          for (const value of INJECTIONS) {
            const query = new URLSearchParams({ [param]: value });
            const res = await platform.request({
              url: `/security/FHIR/R4/AuditEvent?${query}`,
              token: officer,
            });
            assert.ok(
              res.statusCode < 500,
              `${param}=${value.slice(0, 30)} answered ${res.statusCode}`,
            );
            assertNothingLeaked(res);
            if (res.statusCode === 200)
              assert.equal(
                res.json().entry,
                undefined,
                `${param}=${value.slice(0, 30)} matches nothing`,
              );
            else assert.equal(res.json().resourceType, 'OperationOutcome');
          }
        }
        const verify = await platform.request({
          url: '/security/FHIR/R4/AuditEvent/$verify',
          token: officer,
        });
        assert.equal(
          verify.json().parameter.find((p: any) => p.name === 'valid').valueBoolean,
          true,
          'the chain still verifies',
        );
        assert.ok(
          (await platform.repo.audit.auditHead()).seq > headBefore.seq,
          'the searches themselves were audited',
        );
      });

      it('in path ids and the patient of a security operation', async () => {
        const token = await platform.token('R8000');
        for (const value of INJECTIONS.slice(0, 8)) {
          const res = await platform.request({
            url: `${PDS}/Patient/${encodeURIComponent(value)}`,
            token,
          });
          assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${value}: ${res.statusCode}`);
          assertNothingLeaked(res);
          const op = await platform.request({
            method: 'POST',
            url: '/security/FHIR/R4/$claim-relationship',
            token,
            body: {
              resourceType: 'Parameters',
              parameter: [
                { name: 'patient', valueString: value },
                { name: 'reason', valueString: value },
              ],
            },
          });
          assert.ok(op.statusCode >= 400 && op.statusCode < 500, `${value}: ${op.statusCode}`);
        }
      });
    });

    it('a NUL character in a body or a query is refused before it reaches a store', async () => {
      const token = await platform.token('R8000');
      assertOutcome(
        await platform.request({
          method: 'POST',
          url: '/security/FHIR/R4/$claim-relationship',
          token,
          body: {
            resourceType: 'Parameters',
            parameter: [
              { name: 'patient', valueString: NHS.jane },
              { name: 'reason', valueString: 'evil\u0000' },
            ],
          },
        }),
        400,
        'UNSUPPORTED_CHARACTERS_IN_FIELD',
      );
      assertOutcome(
        await platform.request({
          url: `${PDS}/Patient?family=Sm%00ith&birthdate=eq2010-10-22`,
          token,
        }),
        400,
        'UNSUPPORTED_CHARACTERS_IN_FIELD',
      );
    });

    describe('oversized requests', () => {
      it('a body over the limit is 413 MESSAGE_TOO_LARGE, audited', async () => {
        const token = await platform.token('R8000', { user: 'big-body' });
        const res = await platform.request({
          method: 'POST',
          url: `${PDS}/Patient`,
          token,
          body: { resourceType: 'Patient', note: 'x'.repeat(100 * 1024) },
        });
        assertOutcome(res, 413, 'MESSAGE_TOO_LARGE');
        const entries = (await platform.repo.audit.readAudit(0, 100_000)).filter(
          (e) => e.record.userId === 'big-body',
        );
        assert.deepEqual(
          entries.map((e) => e.record.outcome),
          ['refused 413 MESSAGE_TOO_LARGE'],
        );
      });

      it('headers over the limit are 431 with an OperationOutcome over a real socket, audited', async () => {
        await platform.app.listen({ port: 0, host: '127.0.0.1' });
        const { port } = platform.app.server.address() as AddressInfo;
        const before = (await platform.repo.audit.auditHead()).seq;
        const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = httpRequest(
            {
              host: '127.0.0.1',
              port,
              path: `${PDS}/Patient/${NHS.jane}`,
              headers: { 'x-request-id': randomUUID(), 'x-padding': 'a'.repeat(64 * 1024) },
            },
            (r) => {
              let body = '';
              r.on('data', (c) => (body += c));
              r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
            },
          );
          req.on('error', reject);
          req.end();
        });
        assert.equal(res.status, 431);
        assert.equal(JSON.parse(res.body).issue[0].details.coding[0].code, 'MESSAGE_TOO_LARGE');
        // the audit entry is group-committed just after the answer is written
        let entries: { record: { outcome: string; type?: string } }[] = [];
        for (
          let i = 0;
          i < 50 && !entries.some((e) => e.record.outcome.startsWith('refused 431'));
          i++
        ) {
          await new Promise((r) => setTimeout(r, 20));
          entries = await platform.repo.audit.readAudit(before, 100);
        }
        assert.ok(
          entries.some(
            (e) =>
              e.record.outcome === 'refused 431 MESSAGE_TOO_LARGE' && e.record.type === 'security',
          ),
          'the refusal is audited as a security event',
        );
      });
    });
  });
}
