/**
 * `serve --demo` signs a developer in by hand: the demo clinician and development portal exist
 * (created idempotently), the banner prints a working authorization URL, and the dev-callback page
 * shows the code to exchange.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ClientRegistry } from '../src/security/accounts/clients.js';
import { UserDirectory } from '../src/security/accounts/users.js';
import { ensureDemoIdentity } from '../src/services/identity/demo-identity.js';
import { openRepository } from '../src/store/open.js';
import { killAllChildren, startChildServer } from './helpers/child-server.js';
import { isolatedStoreConfig, storesUnderTest } from './helpers/stores.js';

after(killAllChildren);

/** Cookie-less browser step: a form POST over real HTTP, redirects not followed. */
function post(url: string, fields: Record<string, string>) {
  return fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields),
  });
}

for (const kind of await storesUnderTest()) {
  describe(`demo sign-in (${kind})`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    after(async () => {
      await killAllChildren();
      for (const c of cleanups) await c().catch(() => {});
    });

    it('creates the demo user and portal once, and follows the server to a new address', async () => {
      const { config, cleanup } = await isolatedStoreConfig(kind);
      cleanups.push(cleanup);
      const repo = await openRepository(config);
      try {
        await ensureDemoIdentity(repo, 'http://127.0.0.1:8080');
        await ensureDemoIdentity(repo, 'http://127.0.0.1:8080');
        const hint = await ensureDemoIdentity(repo, 'http://127.0.0.1:9090');
        const user = await new UserDirectory(repo).get('demo-clinician');
        assert.equal(user?.name, 'Dr Demo Clinician');
        assert.deepEqual(
          user?.roleProfiles.map((p) => `${p.role}@${p.org}`),
          ['R8000@A81001', 'R8008@A81001'],
        );
        assert.ok(
          await new UserDirectory(repo).authenticate('demo-clinician', '1234'),
          'PIN 1234 signs in',
        );
        const portal = await new ClientRegistry(repo).get('openspine-dev-portal');
        assert.equal(portal?.kind, 'portal');
        assert.deepEqual(portal?.redirectUris, [
          'http://127.0.0.1:8080/oauth2/dev-callback',
          'http://127.0.0.1:9090/oauth2/dev-callback',
        ]);
        assert.equal(hint.split('\n').length, 1, 'one line');
        assert.match(
          hint,
          /^Sign in as demo-clinician \(PIN 1234\): export CODE_VERIFIER=\S+; open http:\/\/127\.0\.0\.1:9090\/oauth2\/authorize\?/,
        );
      } finally {
        await repo.close();
      }
    });

    it("serve --demo: the banner's URL, the PIN, a profile, the dev callback, the curl exchange, a PDS read", async () => {
      const { config, cleanup } = await isolatedStoreConfig(kind);
      cleanups.push(cleanup);
      const server = await startChildServer(config, ['--demo', '--demo-patients', '3'], 90_000);
      // the banner is printed after the listening line the helper waits for: give it a moment
      const signIn = /export CODE_VERIFIER=(\S+); open (\S+)/;
      for (let waited = 0; !signIn.test(server.stdout()) && waited < 10_000; waited += 50)
        await new Promise((r) => setTimeout(r, 50));
      const hint = signIn.exec(server.stdout());
      assert.ok(hint, `the banner has a sign-in line: ${server.stdout()}`);
      const [, verifier, authorizeUrl] = hint;
      assert.ok(authorizeUrl.startsWith(server.url), `${authorizeUrl} is on ${server.url}`);

      const page = await fetch(authorizeUrl);
      assert.equal(page.status, 200);
      const tx = /name="tx" value="([^"]+)"/.exec(await page.text())![1];
      const picker = await post(`${server.url}/oauth2/authorize`, {
        step: 'login',
        tx,
        user: 'demo-clinician',
        pin: '1234',
      });
      const pickerHtml = await picker.text();
      assert.equal(picker.status, 200, pickerHtml);
      const profile = /name="profile" value="([^"]+)"/.exec(pickerHtml)![1];
      const done = await post(`${server.url}/oauth2/authorize`, {
        step: 'profile',
        tx: /name="tx" value="([^"]+)"/.exec(pickerHtml)![1],
        profile,
      });
      assert.equal(done.status, 302);
      const callback = done.headers.get('location')!;
      assert.ok(callback.startsWith(`${server.url}/oauth2/dev-callback?`), callback);

      const landing = await (await fetch(callback)).text();
      const code = new URL(callback).searchParams.get('code')!;
      assert.ok(
        landing.includes(code) && landing.includes('code_verifier=$CODE_VERIFIER'),
        'the callback page shows the code and the exchange',
      );
      const token = await post(`${server.url}/oauth2/token`, {
        grant_type: 'authorization_code',
        client_id: 'openspine-dev-portal',
        code,
        redirect_uri: `${server.url}/oauth2/dev-callback`,
        code_verifier: verifier,
      });
      const body = await token.json();
      assert.equal(token.status, 200, JSON.stringify(body));
      const read = await fetch(
        `${server.url}/personal-demographics/FHIR/R4/Patient?family=x&birthdate=eq2000-01-01`,
        {
          headers: {
            authorization: `Bearer ${body.access_token}`,
            'x-request-id': crypto.randomUUID(),
          },
        },
      );
      assert.equal(read.status, 200, await read.text());
      await server.kill('SIGTERM');
    });
  });
}
