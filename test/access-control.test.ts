import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { registerAccessControl } from '../src/security/access-control.js';
import { TokenVerifier } from '../src/security/token-verifier.js';
import { ROLES, roleAllows } from '../src/security/policy.js';
import { registerFhirConventions } from '../src/http/fhir-conventions.js';
import { loadOrCreateSigningKey } from '../src/security/embedded-idp.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('deny by default', () => {
  it('refuses to start when a route declares neither an activity nor public', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'openspine-ac-'));
    try {
      const key = await loadOrCreateSigningKey(dir);
      const app = Fastify();
      registerFhirConventions(app);
      registerAccessControl(app, {
        verifier: new TokenVerifier({
          embeddedPublicJwk: key.publicJwk,
          audience: 'openspine',
          external: null,
        }),
      });
      assert.throws(() => app.get('/naked', async () => ({})), /declares no activity/);
      assert.throws(
        () => app.get('/typo', { config: { activity: 'pds.reed' as never } }, async () => ({})),
        /unknown activity/,
      );
      app.get('/fine', { config: { activity: 'pds.read' } }, async () => ({ ok: true }));
      await app.ready();
      const res = await app.inject({ url: '/fine' });
      assert.equal(res.statusCode, 401);
      await app.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a new data directory gets one signing key even when several callers create it at once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'openspine-key-'));
    try {
      const keys = await Promise.all(Array.from({ length: 6 }, () => loadOrCreateSigningKey(dir)));
      assert.equal(new Set(keys.map((k) => k.kid)).size, 1);
      const again = await loadOrCreateSigningKey(dir);
      assert.equal(again.kid, keys[0].kid);
      assert.equal(again.publicJwk.d, undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('policy table: merges need R8013, reads are allowed to R8000 and R8008, unknown roles get nothing', () => {
    assert.equal(roleAllows('R8013', 'pds.merge'), true);
    assert.equal(roleAllows('R8000', 'pds.merge'), false);
    assert.equal(roleAllows('R8008', 'pds.merge'), false);
    for (const role of ['R8000', 'R8008'])
      for (const a of ['pds.read', 'pds.search', 'pds.update', 'pds.create'] as const)
        assert.equal(roleAllows(role, a), true, `${role} ${a}`);
    assert.equal(roleAllows('R9999', 'pds.read'), false);
    assert.equal(roleAllows('constructor', 'pds.read'), false); // no prototype keys
    assert.ok(Object.keys(ROLES).length >= 3, 'expected true at access-control.test.ts:57');
  });
});

describe('external OIDC issuer', () => {
  let jwks: Server;
  let jwksUrl: string;
  let privateKey: CryptoKey;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'openspine-ext-'));
    const pair = await generateKeyPair('RS256');
    privateKey = pair.privateKey as CryptoKey;
    const publicJwk = {
      ...(await exportJWK(pair.publicKey)),
      kid: 'ext-1',
      alg: 'RS256',
      use: 'sig',
    };
    jwks = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [publicJwk] }));
    });
    await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
    jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks`;
  });
  after(async () => {
    await new Promise((r) => jwks.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  const sign = (
    claims: Record<string, unknown>,
    issuer: string,
    audience: string,
    key = () => privateKey,
  ) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: 'ext-1' })
      .setIssuer(issuer)
      .setAudience(audience)
      .setSubject('ext-user')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(key());

  it('accepts a token from the configured issuer and refuses other issuers and audiences', async () => {
    const key = await loadOrCreateSigningKey(dir);
    const verifier = new TokenVerifier({
      embeddedPublicJwk: key.publicJwk,
      audience: 'openspine',
      external: { issuer: 'https://cis2.example', jwksUrl, audience: 'openspine-ext' },
    });
    const ok = await verifier.verify(
      `Bearer ${await sign({ role: 'R8000', org: 'B82001' }, 'https://cis2.example', 'openspine-ext')}`,
    );
    assert.equal(ok.userId, 'ext-user');
    assert.equal(ok.role, 'R8000');
    assert.equal(ok.org, 'B82001');
    await assert.rejects(
      verifier.verify(
        `Bearer ${await sign({ role: 'R8000', org: 'B82001' }, 'https://evil.example', 'openspine-ext')}`,
      ),
      /issuer is not trusted/,
    );
    await assert.rejects(
      verifier.verify(
        `Bearer ${await sign({ role: 'R8000', org: 'B82001' }, 'https://cis2.example', 'someone-else')}`,
      ),
      /aud/,
    );
    await assert.rejects(
      verifier.verify(
        `Bearer ${await sign({ org: 'B82001' }, 'https://cis2.example', 'openspine-ext')}`,
      ),
      /role profile/,
    );
    const other = await generateKeyPair('RS256');
    await assert.rejects(
      verifier.verify(
        `Bearer ${await sign({ role: 'R8000', org: 'B82001' }, 'https://cis2.example', 'openspine-ext', () => other.privateKey as CryptoKey)}`,
      ),
      /signature/,
    );
  });

  it('refuses alg=none and a token with the embedded issuer but no valid signature', async () => {
    const key = await loadOrCreateSigningKey(dir);
    const verifier = new TokenVerifier({
      embeddedPublicJwk: key.publicJwk,
      audience: 'openspine',
      external: null,
    });
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ iss: 'urn:openspine:embedded-idp', aud: 'openspine', sub: 'x', role: 'R8013', org: 'A81001', exp: now + 600 })}.`;
    await assert.rejects(
      verifier.verify(`Bearer ${unsigned}`),
      (err: Error & { status?: number }) => err.status === 401,
    );
    await assert.rejects(
      verifier.verify(`Bearer ${randomUUID()}`),
      (err: Error & { status?: number }) => err.status === 401,
    );
  });
});
