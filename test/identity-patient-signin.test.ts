/**
 * A patient's NHS login account at the embedded identity provider, driven as a browser and a
 * portal drive it: the login form leads straight back to the client (no role to choose), the code
 * buys a patient token (subject the NHS Number, P9, the session's sid), the token reaches the
 * patient's own record and no other, refresh keeps the sid, and revoking the session (or the
 * account, as `openspine user revoke` does) stops every token of it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import type { LightMyRequestResponse } from 'fastify';
import { ClientRegistry } from '../src/security/accounts/clients.js';
import { UserDirectory, UserInputError } from '../src/security/accounts/users.js';
import { commitPatients, currentJane, living, withNhsNumber } from './helpers/pds-fixtures.js';
import { killAllChildren, runCli, storeFlags } from './helpers/child-server.js';
import { PDS, startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';

after(killAllChildren);

const PORTAL = 'patient-portal';
const REDIRECT = 'https://portal.example/callback';
const OWN = '9000000076';
const OTHER = '9000000084';
const ACCOUNT = { id: 'pat.one', name: 'Pat One', pin: 'patient-pass-9', nhsNumber: OWN };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function txOf(res: LightMyRequestResponse): string {
  const tx = /name="tx" value="([^"]+)"/.exec(res.body)?.[1];
  assert.ok(tx, `the page carries a sign-in transaction (status ${res.statusCode})`);
  return tx;
}

for (const kind of await storesUnderTest()) {
  describe(`identity provider: a patient signs in with their NHS login account (${kind})`, () => {
    let platform: TestPlatform;
    const users = () => new UserDirectory(platform.repo);
    const form = (url: string, fields: Record<string, string>) =>
      platform.app.inject({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams(fields).toString(),
      });
    const read = (token: string, nhs = OWN) =>
      platform.request({ url: `${PDS}/Patient/${nhs}`, token });
    const refresh = (refreshToken: string) =>
      form('/oauth2/token', {
        grant_type: 'refresh_token',
        client_id: PORTAL,
        refresh_token: refreshToken,
      });

    /** Authorize, log in (the form answers with the redirect itself), redeem the code. */
    async function signIn(account: { id: string; pin: string } = ACCOUNT) {
      const verifier = randomBytes(32).toString('base64url');
      const q = new URLSearchParams({
        response_type: 'code',
        client_id: PORTAL,
        redirect_uri: REDIRECT,
        scope: 'openid profile',
        state: 'st-p',
        nonce: 'n-p',
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
      });
      const page = await platform.app.inject({ url: `/oauth2/authorize?${q}` });
      assert.equal(page.statusCode, 200, page.body);
      assert.ok(
        String(page.headers['content-security-policy']).includes('https://portal.example'),
        'the login form may post on to the client: a patient account has no role page',
      );
      const done = await form('/oauth2/authorize', {
        step: 'login',
        tx: txOf(page),
        user: account.id,
        pin: account.pin,
      });
      assert.equal(done.statusCode, 302, done.body);
      const location = new URL(String(done.headers.location));
      assert.equal(`${location.origin}${location.pathname}`, REDIRECT);
      assert.equal(location.searchParams.get('state'), 'st-p');
      const res = await form('/oauth2/token', {
        grant_type: 'authorization_code',
        client_id: PORTAL,
        code: location.searchParams.get('code')!,
        redirect_uri: REDIRECT,
        code_verifier: verifier,
      });
      assert.equal(res.statusCode, 200, res.body);
      return res.json() as { access_token: string; refresh_token: string; id_token: string };
    }

    before(async () => {
      platform = await startTestPlatform(kind, { config: { revocationCacheMs: 50 } });
      await commitPatients(platform.repo, [
        withNhsNumber(living(currentJane()), OWN),
        withNhsNumber(living(currentJane()), OTHER),
      ]);
      await users().addPatient(ACCOUNT);
      await new ClientRegistry(platform.repo).add({
        id: PORTAL,
        name: 'Patient portal',
        kind: 'portal',
        redirectUris: [REDIRECT],
      });
    });
    after(async () => {
      await platform?.close();
    });

    it('code -> a P9 patient token for their own record, refreshed in the same session, revoked', async () => {
      const tokens = await signIn();
      const claims = decodeJwt(tokens.access_token);
      assert.equal(claims.subject_type, 'patient');
      assert.equal(claims.sub, OWN);
      assert.equal(claims.nhs_number, OWN);
      assert.equal(claims.identity_proofing_level, 'P9');
      assert.equal(claims.name, 'Pat One');
      assert.equal(claims.role, undefined, 'a patient token carries no staff role');
      const sid = claims.sid;
      assert.match(String(sid), /^[0-9a-f-]{36}$/);
      assert.equal(decodeJwt(tokens.id_token).sid, sid, 'the ID token names the same session');

      assert.equal((await read(tokens.access_token)).statusCode, 200);
      const other = await read(tokens.access_token, OTHER);
      assert.equal(other.statusCode, 403, other.body);

      const next = await refresh(tokens.refresh_token);
      assert.equal(next.statusCode, 200, next.body);
      const refreshed = next.json();
      assert.equal(decodeJwt(refreshed.access_token).sid, sid);
      assert.equal(decodeJwt(refreshed.access_token).nhs_number, OWN);
      assert.equal((await read(refreshed.access_token)).statusCode, 200);

      const audit = (await platform.repo.audit.readAudit(0, 10_000)).map((e) => e.record);
      for (const action of ['sign-in', 'token.issue'])
        assert.ok(
          audit.some(
            (r) =>
              r.action === action &&
              r.type === 'security' &&
              r.actorKind === 'patient' &&
              r.userId === OWN &&
              r.role === 'patient',
          ),
          `${action} is audited as the patient`,
        );

      const revoked = await form('/oauth2/revoke', { token: refreshed.refresh_token });
      assert.equal(revoked.statusCode, 200);
      await sleep(100); // the revocation cache time is 50 ms here
      for (const token of [tokens.access_token, refreshed.access_token])
        assert.equal(
          (await read(token)).statusCode,
          401,
          'the session revocation reaches the token',
        );
      assert.equal((await refresh(refreshed.refresh_token)).json().error, 'invalid_grant');
    });

    it('a wrong passcode is the login form again, 401; a patient account is no staff user', async () => {
      const verifier = randomBytes(32).toString('base64url');
      const q = new URLSearchParams({
        response_type: 'code',
        client_id: PORTAL,
        redirect_uri: REDIRECT,
        scope: 'openid',
        state: 's',
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
      });
      const page = await platform.app.inject({ url: `/oauth2/authorize?${q}` });
      const wrong = await form('/oauth2/authorize', {
        step: 'login',
        tx: txOf(page),
        user: ACCOUNT.id,
        pin: 'not-the-pin',
      });
      assert.equal(wrong.statusCode, 401);
      assert.equal(wrong.headers.location, undefined);
      await assert.rejects(
        users().add({
          id: ACCOUNT.id,
          name: 'Pat One',
          pin: '1234',
          profiles: [{ role: 'R8000', org: 'A81001' }],
        }),
        UserInputError,
        'a patient account cannot be given staff role profiles',
      );
      assert.deepEqual((await users().get(ACCOUNT.id))?.roleProfiles, []);
    });

    it('`openspine user revoke` of a patient account stops its live tokens, refresh and sign-in', async () => {
      await users().addPatient({ ...ACCOUNT, id: 'pat.gone' });
      const tokens = await signIn({ id: 'pat.gone', pin: ACCOUNT.pin });
      assert.equal((await read(tokens.access_token)).statusCode, 200);
      const res = await runCli(['user', 'revoke', 'pat.gone', ...storeFlags(platform.config)]);
      assert.equal(res.code, 0, res.stderr);
      await sleep(100);
      assert.equal((await read(tokens.access_token)).statusCode, 401, 'the live token stops');
      assert.equal((await refresh(tokens.refresh_token)).json().error, 'invalid_grant');
      assert.equal((await users().get('pat.gone'))?.status, 'revoked');
      const list = await runCli(['user', 'list', ...storeFlags(platform.config)]);
      assert.doesNotMatch(
        list.stdout,
        /pat\.gone/,
        'a revoked patient account is not a staff user',
      );
    });
  });
}
