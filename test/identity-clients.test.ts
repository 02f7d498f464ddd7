/**
 * Applications getting tokens with no user present (client_credentials): private_key_jwt client
 * assertions checked against registered keys, client secrets, scopes, replay and revocation.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { decodeJwt, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { seedPatients } from '../src/seed/seed-patients.js';
import { ClientRegistry } from '../src/security/accounts/clients.js';
import { RevocationList } from '../src/security/accounts/revocations.js';
import { oidcIssuer } from '../src/services/identity/routes.js';
import { PDS, startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const APP = 'gp-batch';

for (const kind of await storesUnderTest()) {
  describe(`identity provider client credentials (${kind})`, () => {
    let platform: TestPlatform;
    let nhs: string;
    let tokenUrl: string;
    let privateKey: CryptoKey;
    let otherKey: CryptoKey;
    let secret: string;
    const clients = () => new ClientRegistry(platform.repo);

    const form = (fields: Record<string, string>, headers: Record<string, string> = {}) =>
      platform.app.inject({
        method: 'POST',
        url: '/oauth2/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        payload: new URLSearchParams(fields).toString(),
      });

    async function assertion(
      opts: {
        clientId?: string;
        aud?: string;
        expIn?: number;
        jti?: string | null;
        key?: CryptoKey;
        alg?: string;
      } = {},
    ) {
      const clientId = opts.clientId ?? APP;
      const now = Math.floor(Date.now() / 1000);
      const jwt = new SignJWT(opts.jti === null ? {} : { jti: opts.jti ?? randomUUID() })
        .setProtectedHeader({ alg: opts.alg ?? 'ES256', kid: 'k1' })
        .setIssuer(clientId)
        .setSubject(clientId)
        .setAudience(opts.aud ?? tokenUrl)
        .setIssuedAt(now)
        .setExpirationTime(now + (opts.expIn ?? 120));
      return jwt.sign(opts.key ?? privateKey);
    }
    const withAssertion = (jwt: string, extra: Record<string, string> = {}) =>
      form({
        grant_type: 'client_credentials',
        client_assertion_type: JWT_BEARER,
        client_assertion: jwt,
        ...extra,
      });
    const refusedAsClient = async (res: Awaited<ReturnType<typeof form>>, why: string) => {
      assert.equal(res.statusCode, 401, `${why}: ${res.body}`);
      assert.equal(res.json().error, 'invalid_client', why);
      assert.equal(res.headers['cache-control'], 'no-store');
    };

    before(async () => {
      platform = await startTestPlatform(kind);
      tokenUrl = `${oidcIssuer(platform.config.publicUrl)}/token`;
      nhs = (await seedPatients(platform.repo, { patients: 2, seed: 5 })).firstNhsNumber!;
      const pair = await generateKeyPair('ES256');
      privateKey = pair.privateKey;
      otherKey = (await generateKeyPair('ES256')).privateKey;
      const publicJwk: JWK = {
        ...(await exportJWK(pair.publicKey)),
        kid: 'k1',
        alg: 'ES256',
        use: 'sig',
      };
      await clients().add({
        id: APP,
        name: 'GP batch',
        kind: 'application',
        jwks: { keys: [publicJwk] },
        scopes: ['pds.read', 'pds.search'],
        org: 'A81001',
      });
      secret = (
        await clients().add({
          id: 'secret-app',
          name: 'Secret app',
          kind: 'application',
          withSecret: true,
          scopes: ['pds.read'],
          org: 'B82002',
        })
      ).secret!;
      await clients().add({
        id: 'a-portal',
        name: 'Portal',
        kind: 'portal',
        redirectUris: ['https://p.example/cb'],
      });
    });
    after(async () => {
      await platform?.close();
    });

    it('private_key_jwt gets a token that allows only its scopes', async () => {
      const res = await withAssertion(await assertion());
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.headers['cache-control'], 'no-store');
      const body = res.json();
      assert.equal(body.token_type, 'Bearer');
      assert.equal(body.scope, 'pds.read pds.search');
      const claims = decodeJwt(body.access_token);
      assert.equal(claims.sub, APP);
      assert.equal(claims.subject_type, 'application');
      assert.equal(claims.org, 'A81001');
      const read = await platform.request({
        url: `${PDS}/Patient/${nhs}`,
        token: body.access_token,
      });
      assert.equal(read.statusCode, 200, read.body);
      const patch = await platform.request({
        method: 'PATCH',
        url: `${PDS}/Patient/${nhs}`,
        token: body.access_token,
        headers: { 'if-match': 'W/"1"' },
        body: { patches: [{ op: 'replace', path: '/gender', value: 'other' }] },
        contentType: 'application/json-patch+json',
      });
      assert.equal(patch.statusCode, 403, patch.body);

      const audit = (await platform.repo.audit.readAudit(0, 10_000)).map((e) => e.record);
      assert.ok(
        audit.some(
          (r) =>
            r.type === 'security' &&
            r.action === 'token.issue' &&
            r.userId === APP &&
            r.actorKind === 'application',
        ),
        'the token issue is audited',
      );
    });

    it('a narrower scope can be asked for; a scope not registered is invalid_scope', async () => {
      const narrow = await withAssertion(await assertion(), { scope: 'pds.read' });
      assert.equal(narrow.statusCode, 200, narrow.body);
      assert.equal(narrow.json().scope, 'pds.read');
      const search = await platform.request({
        url: `${PDS}/Patient?family=Smith&birthdate=eq2010-10-22`,
        token: narrow.json().access_token,
      });
      assert.equal(search.statusCode, 403, search.body);
      const wider = await withAssertion(await assertion(), { scope: 'pds.read pds.update' });
      assert.equal(wider.statusCode, 400);
      assert.equal(wider.json().error, 'invalid_scope');
    });

    it('a replayed assertion (same jti) is refused', async () => {
      const jwt = await assertion();
      assert.equal((await withAssertion(jwt)).statusCode, 200);
      await refusedAsClient(await withAssertion(jwt), 'replay');
      const jti = randomUUID();
      assert.equal((await withAssertion(await assertion({ jti }))).statusCode, 200);
      await refusedAsClient(
        await withAssertion(await assertion({ jti })),
        'same jti, new assertion',
      );
      const audit = (await platform.repo.audit.readAudit(0, 10_000)).map((e) => e.record);
      assert.ok(
        audit.some(
          (r) =>
            r.type === 'security' &&
            r.action === 'client-authentication' &&
            r.outcome.includes('replay'),
        ),
        'the refusal is audited',
      );
    });

    it('wrong audience, expired, too far ahead, no jti, wrong key, alg none: all invalid_client', async () => {
      await refusedAsClient(
        await withAssertion(await assertion({ aud: 'https://elsewhere.example/token' })),
        'wrong audience',
      );
      await refusedAsClient(
        await withAssertion(await assertion({ aud: oidcIssuer(platform.config.publicUrl) })),
        'issuer instead of token endpoint',
      );
      await refusedAsClient(await withAssertion(await assertion({ expIn: -60 })), 'expired');
      await refusedAsClient(
        await withAssertion(await assertion({ expIn: 600 })),
        'exp 10 minutes ahead',
      );
      await refusedAsClient(await withAssertion(await assertion({ jti: null })), 'no jti');
      await refusedAsClient(await withAssertion(await assertion({ key: otherKey })), 'wrong key');
      const now = Math.floor(Date.now() / 1000);
      const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
      const none = `${b64({ alg: 'none' })}.${b64({ iss: APP, sub: APP, aud: tokenUrl, exp: now + 60, jti: randomUUID() })}.`;
      await refusedAsClient(await withAssertion(none), 'alg none');
      await refusedAsClient(await withAssertion('not-a-jwt'), 'garbage');
      await refusedAsClient(
        await withAssertion(await assertion(), { client_id: 'secret-app' }),
        'client_id not the assertion issuer',
      );
      const wrongType = await form({
        grant_type: 'client_credentials',
        client_assertion_type: 'urn:other',
        client_assertion: await assertion(),
      });
      assert.equal(wrongType.json().error, 'invalid_request');
    });

    it('a revoked application is refused', async () => {
      const pair = await generateKeyPair('ES256');
      const jwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: 'k1' };
      await clients().add({
        id: 'doomed-app',
        name: 'Doomed',
        kind: 'application',
        jwks: { keys: [jwk] },
        scopes: ['pds.read'],
        org: 'C83003',
      });
      const ok = await withAssertion(
        await assertion({ clientId: 'doomed-app', key: pair.privateKey }),
      );
      assert.equal(ok.statusCode, 200, ok.body);
      await clients().markRevoked('doomed-app');
      await new RevocationList(platform.repo).revoke(
        { client: 'doomed-app' },
        'decommissioned',
        'test',
      );
      await refusedAsClient(
        await withAssertion(await assertion({ clientId: 'doomed-app', key: pair.privateKey })),
        'revoked app',
      );
    });

    it('client_secret_post and client_secret_basic work; a wrong secret is refused', async () => {
      const post = await form({
        grant_type: 'client_credentials',
        client_id: 'secret-app',
        client_secret: secret,
      });
      assert.equal(post.statusCode, 200, post.body);
      assert.equal(post.json().scope, 'pds.read');
      assert.equal(
        (await platform.request({ url: `${PDS}/Patient/${nhs}`, token: post.json().access_token }))
          .statusCode,
        200,
      );
      const basic = await form(
        { grant_type: 'client_credentials' },
        {
          authorization: `Basic ${Buffer.from(`secret-app:${encodeURIComponent(secret)}`).toString('base64')}`,
        },
      );
      assert.equal(basic.statusCode, 200, basic.body);
      await refusedAsClient(
        await form({
          grant_type: 'client_credentials',
          client_id: 'secret-app',
          client_secret: 'wrong',
        }),
        'wrong secret',
      );
      await refusedAsClient(
        await form(
          { grant_type: 'client_credentials' },
          { authorization: `Basic ${Buffer.from('secret-app:wrong').toString('base64')}` },
        ),
        'wrong basic secret',
      );
      await refusedAsClient(
        await form({ grant_type: 'client_credentials', client_id: 'secret-app' }),
        'no secret',
      );
      const both = await form(
        { grant_type: 'client_credentials', client_id: 'secret-app', client_secret: secret },
        { authorization: `Basic ${Buffer.from(`secret-app:${secret}`).toString('base64')}` },
      );
      assert.equal(both.json().error, 'invalid_request');
    });

    it('a portal may not use client_credentials, and an application may not use the user grants', async () => {
      const portal = await form({ grant_type: 'client_credentials', client_id: 'a-portal' });
      assert.equal(portal.statusCode, 400);
      assert.equal(portal.json().error, 'unauthorized_client');
      const app = await form({
        grant_type: 'refresh_token',
        client_id: 'secret-app',
        client_secret: secret,
        refresh_token: 'x',
      });
      assert.equal(app.json().error, 'unauthorized_client');
    });

    it('revoking an application token stops it without revoking the application', async () => {
      const first = (await withAssertion(await assertion())).json().access_token;
      const second = (await withAssertion(await assertion())).json().access_token;
      const revoke = await platform.app.inject({
        method: 'POST',
        url: '/oauth2/revoke',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: `token=${first}`,
      });
      assert.equal(revoke.statusCode, 200);
      assert.equal(
        (await platform.request({ url: `${PDS}/Patient/${nhs}`, token: first })).statusCode,
        401,
      );
      assert.equal(
        (await platform.request({ url: `${PDS}/Patient/${nhs}`, token: second })).statusCode,
        200,
      );
      const userinfo = await platform.app.inject({
        url: '/oauth2/userinfo',
        headers: { authorization: `Bearer ${second}` },
      });
      assert.equal(userinfo.statusCode, 401, 'userinfo is for user tokens');
      assert.equal(userinfo.json().error, 'invalid_token');
    });
  });
}
