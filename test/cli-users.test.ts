/**
 * `openspine user` and `openspine app` as an operator runs them, each in its own process, against
 * the store a running platform uses: what they print, their exit codes, and what the server does
 * with the users and clients they add and revoke.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import { SessionStore } from '../src/security/accounts/sessions.js';
import { mintToken } from '../src/security/embedded-idp.js';
import { PDS, startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { killAllChildren, runCli, storeFlags } from './helpers/child-server.js';
import { storesUnderTest } from './helpers/stores.js';

after(killAllChildren);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const kind of await storesUnderTest()) {
  describe(`openspine user / app (${kind})`, () => {
    let platform: TestPlatform;
    let flags: string[];
    const cli = (...args: string[]) => runCli([...args, ...flags]);
    const form = (url: string, fields: Record<string, string>) =>
      platform.app.inject({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams(fields).toString(),
      });

    before(async () => {
      platform = await startTestPlatform(kind, { config: { revocationCacheMs: 50 } });
      flags = storeFlags(platform.config);
    });
    after(async () => {
      await platform?.close();
    });

    it('user add, add again (a second profile), list, sign in with the PIN, revoke', async () => {
      const added = await cli(
        'user',
        'add',
        '--id',
        'ada',
        '--name',
        'Dr Ada Lovelace',
        '--role',
        'R8000',
        '--org',
        'a81001',
        '--pin',
        '1234',
      );
      assert.equal(added.code, 0, added.stderr);
      assert.match(added.stdout, /user ada \(Dr Ada Lovelace\): profile ada-1 R8000/);
      const again = await cli('user', 'add', '--id', 'ada', '--role', 'R8008', '--org', 'B82002');
      assert.equal(again.code, 0, again.stderr);
      const list = await cli('user', 'list');
      assert.equal(list.code, 0, list.stderr);
      const line = list.stdout.split('\n').find((l) => l.startsWith('ada\t'));
      assert.ok(line, `ada is listed: ${list.stdout}`);
      assert.match(line, /\tDr Ada Lovelace\tactive\t/);
      assert.ok(
        line.includes('ada-1: R8000') &&
          line.includes('A81001') &&
          line.includes('ada-2: R8008') &&
          line.includes('B82002'),
        line,
      );

      // the server sees the new user at once: the PIN set by the CLI signs in, both profiles offered
      const {
        stdout: portalOut,
        code: portalCode,
        stderr: portalErr,
      } = await cli(
        'app',
        'add',
        '--name',
        'Ward portal',
        '--kind',
        'portal',
        '--id',
        'ward-portal',
        '--redirect-uri',
        'https://ward.example/cb',
      );
      assert.equal(portalCode, 0, portalErr);
      assert.match(portalOut, /client id: ward-portal/);
      const verifier = randomBytes(32).toString('base64url');
      const q = new URLSearchParams({
        response_type: 'code',
        client_id: 'ward-portal',
        redirect_uri: 'https://ward.example/cb',
        scope: 'openid',
        state: 's',
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
      });
      const page = await platform.app.inject({ url: `/oauth2/authorize?${q}` });
      assert.equal(page.statusCode, 200, page.body);
      const tx = /name="tx" value="([^"]+)"/.exec(page.body)![1];
      const picker = await form('/oauth2/authorize', {
        step: 'login',
        tx,
        user: 'ada',
        pin: '1234',
      });
      assert.equal(picker.statusCode, 200, picker.body);
      assert.ok(
        picker.body.includes('value="ada-2"'),
        'the profile added by the second command is offered',
      );

      const token = await platform.token('R8000', { user: 'ada' });
      assert.equal(
        (await platform.request({ url: `${PDS}/Patient/9000000009`, token })).statusCode,
        404,
      );
      const revoked = await cli('user', 'revoke', 'ada');
      assert.equal(revoked.code, 0, revoked.stderr);
      await sleep(100); // the server's revocation cache time is 50 ms here
      assert.equal(
        (await platform.request({ url: `${PDS}/Patient/9000000009`, token })).statusCode,
        401,
      );
      assert.match((await cli('user', 'list')).stdout, /^ada\tDr Ada Lovelace\trevoked\t/m);
      assert.equal(
        (await form('/oauth2/authorize', { step: 'login', tx, user: 'ada', pin: '1234' }))
          .statusCode,
        401,
      );
    });

    it('user revoke --session revokes only that session', async () => {
      assert.equal(
        (
          await cli(
            'user',
            'add',
            '--id',
            'bob',
            '--name',
            'Bob',
            '--role',
            'R8001',
            '--org',
            'A81001',
          )
        ).code,
        0,
      );
      const other = await platform.token('R8001', { user: 'bob' });
      // a session the user does not have is bad input
      const wrong = await cli(
        'user',
        'revoke',
        'bob',
        '--session',
        '00000000-0000-4000-8000-000000000000',
      );
      assert.equal(wrong.code, 2);
      assert.equal(wrong.stderr.trim().split('\n').length, 1, wrong.stderr);
      const { session } = await new SessionStore(platform.repo).start({
        userId: 'bob',
        profileId: 'bob-1',
        clientId: 'x',
        ttlSeconds: 60,
      });
      const inSession = await mintToken(platform.key, {
        userId: 'bob',
        role: 'R8001',
        org: 'A81001',
        audience: platform.config.audience,
        sessionId: session.id,
      });
      assert.equal(
        (await platform.request({ url: `${PDS}/Patient/9000000009`, token: inSession })).statusCode,
        404,
      );
      const res = await cli('user', 'revoke', 'bob', '--session', session.id);
      assert.equal(res.code, 0, res.stderr);
      await sleep(100);
      assert.equal(
        (await platform.request({ url: `${PDS}/Patient/9000000009`, token: inSession })).statusCode,
        401,
      );
      assert.equal(
        (await platform.request({ url: `${PDS}/Patient/9000000009`, token: other })).statusCode,
        404,
        'other sessions of the user go on',
      );
      assert.match((await cli('user', 'list')).stdout, /^bob\tBob\tactive\t/m);
    });

    it('app add with --jwks and with --secret; the secret is printed once and works; app revoke', async () => {
      const pair = await generateKeyPair('ES256');
      const jwksFile = join(platform.dataDir, 'app-keys.json');
      writeFileSync(
        jwksFile,
        JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1' }] }),
      );
      const [keyed, secret] = await Promise.all([
        cli(
          'app',
          'add',
          '--name',
          'Keyed app',
          '--kind',
          'application',
          '--id',
          'keyed-app',
          '--org',
          'A81001',
          '--scopes',
          'pds.read,pds.search',
          '--jwks',
          jwksFile,
        ),
        cli(
          'app',
          'add',
          '--name',
          'Secret app',
          '--kind',
          'application',
          '--id',
          'secret-app',
          '--org',
          'B82002',
          '--scopes',
          'pds.read',
          '--secret',
          '--access-mode',
          'privileged-application-restricted',
        ),
      ]);
      assert.equal(keyed.code, 0, keyed.stderr);
      assert.doesNotMatch(keyed.stdout, /secret/);
      assert.equal(secret.code, 0, secret.stderr);
      const printed = /client secret: (\S+)/.exec(secret.stdout)?.[1];
      assert.ok(printed, `the secret is printed: ${secret.stdout}`);

      const list = await cli('app', 'list');
      assert.equal(list.code, 0, list.stderr);
      assert.match(
        list.stdout,
        /^keyed-app\tKeyed app\tapplication\tactive\tA81001\tprivate_key_jwt\tscopes: pds.read,pds.search\tapplication-restricted$/m,
      );
      assert.match(
        list.stdout,
        /^secret-app\tSecret app\tapplication\tactive\tB82002\tclient_secret\tscopes: pds.read\tprivileged-application-restricted$/m,
      );
      assert.ok(!list.stdout.includes(printed), 'the secret is never listed');

      const issued = await form('/oauth2/token', {
        grant_type: 'client_credentials',
        client_id: 'secret-app',
        client_secret: printed,
      });
      assert.equal(issued.statusCode, 200, issued.body);
      // the token carries the registered access mode: PDS names it in a refusal
      const write = await platform.request({
        method: 'POST',
        url: `${PDS}/Patient`,
        token: issued.json().access_token,
        body: {},
      });
      assert.equal(write.statusCode, 403, write.body);
      assert.equal(
        write.json().issue[0].details.coding[0].display,
        'Cannot create resource with privileged-application-restricted access token',
      );
      const unknownMode = await cli(
        'app',
        'add',
        '--name',
        'Odd app',
        '--kind',
        'application',
        '--org',
        'B82002',
        '--scopes',
        'pds.read',
        '--secret',
        '--access-mode',
        'superuser',
      );
      assert.notEqual(unknownMode.code, 0);
      assert.match(unknownMode.stderr, /access mode 'superuser'/);
      const revoked = await cli('app', 'revoke', 'secret-app');
      assert.equal(revoked.code, 0, revoked.stderr);
      await sleep(100);
      assert.equal(
        (
          await platform.request({
            url: `${PDS}/Patient/9000000009`,
            token: issued.json().access_token,
          })
        ).statusCode,
        401,
      );
      assert.equal(
        (
          await form('/oauth2/token', {
            grant_type: 'client_credentials',
            client_id: 'secret-app',
            client_secret: printed,
          })
        ).statusCode,
        401,
      );
      assert.match(
        (await cli('app', 'list')).stdout,
        /^secret-app\tSecret app\tapplication\trevoked\t/m,
      );

      const audit = (await platform.repo.audit.readAudit(0, 10_000))
        .map((e) => e.record)
        .filter((r) => r.type === 'security' && r.userId.startsWith('cli'));
      for (const action of ['client.add', 'client.revoke', 'user.add'])
        assert.ok(
          audit.some((r) => r.action === action),
          `the CLI audits ${action}`,
        );
    });

    it('bad input: exit code 2 and one line', async () => {
      const cases: string[][] = [
        ['user', 'add', '--name', 'X', '--role', 'R9999', '--org', 'A81001'],
        ['user', 'add', '--name', 'X', '--role', 'R8000'],
        ['user', 'add', '--role', 'R8000', '--org', 'A81001'],
        ['user', 'add', '--name', 'X', '--role', 'R8000', '--org', 'not an ods'],
        ['user', 'revoke', 'no-such-user'],
        ['user', 'revoke'],
        ['user', 'frobnicate'],
        ['app', 'add', '--name', 'X', '--kind', 'gadget'],
        [
          'app',
          'add',
          '--name',
          'X',
          '--kind',
          'application',
          '--org',
          'A81001',
          '--scopes',
          'pds.read',
        ],
        [
          'app',
          'add',
          '--name',
          'X',
          '--kind',
          'application',
          '--org',
          'A81001',
          '--scopes',
          'emergency.access',
          '--secret',
        ],
        ['app', 'add', '--name', 'X', '--kind', 'portal'],
        [
          'app',
          'add',
          '--name',
          'X',
          '--kind',
          'application',
          '--org',
          'A81001',
          '--jwks',
          '/no/such/file.json',
        ],
        ['app', 'revoke', 'no-such-app'],
      ];
      const results = await Promise.all(cases.map((args) => cli(...args)));
      results.forEach((r, i) => {
        assert.equal(r.code, 2, `${cases[i].join(' ')}: ${r.stdout} ${r.stderr}`);
        assert.equal(
          r.stderr.trim().split('\n').length,
          1,
          `one line for ${cases[i].join(' ')}: ${r.stderr}`,
        );
      });
    });
  });
}
