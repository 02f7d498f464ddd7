/**
 * The development sign-in in a real browser (Debian's chromium driven by playwright-core): the
 * login page, the role profile choice, the redirect with the code under the pages' Content Security
 * Policy, then the code exchanged for tokens that read a patient. Runs when /usr/bin/chromium is
 * present; CI installs it and sets OPENSPINE_REQUIRE_BROWSER=1, so there it cannot be skipped.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { ClientRegistry } from '../src/security/accounts/clients.js';
import { UserDirectory } from '../src/security/accounts/users.js';
import { startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { commitPatients, currentJane, NHS, PDS } from './helpers/pds-fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const required = process.env.OPENSPINE_REQUIRE_BROWSER === '1';
const available = existsSync(CHROMIUM);
if (!available && !required)
  console.log(
    `# ${CHROMIUM} not found: the browser sign-in test is skipped (CI installs chromium and requires it)`,
  );

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

describe(
  'sign-in in a real browser',
  { skip: !available && !required ? 'chromium not installed' : false },
  () => {
    let platform: TestPlatform;
    let browser: Browser;
    let base: string;

    before(async () => {
      assert.ok(
        existsSync(CHROMIUM),
        `${CHROMIUM} is required here (OPENSPINE_REQUIRE_BROWSER=1): apt-get install chromium`,
      );
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      platform = await startTestPlatform('sqlite', { config: { publicUrl: base, port } });
      await platform.app.listen({ port, host: '127.0.0.1' });
      await commitPatients(platform.repo, [currentJane()]);
      await new UserDirectory(platform.repo).add({
        id: 'dr-browser',
        name: 'Dr <b>Browser</b> & Co',
        pin: '2468',
        profiles: [
          { role: 'R8008', org: 'A81001' },
          { role: 'R8000', org: 'Y12345' },
        ],
      });
      await new ClientRegistry(platform.repo).add({
        id: 'browser-portal',
        name: 'Browser test portal',
        kind: 'portal',
        redirectUris: [`${base}/oauth2/dev-callback`],
      });
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--no-first-run',
        ],
      });
    });
    after(async () => {
      await browser?.close();
      await platform?.close();
    });

    it('signs in with a passcode, picks a role profile, and the code buys a token that reads a patient', async () => {
      const page = await browser.newPage();
      const violations: string[] = [];
      page.on('console', (msg) => {
        if (/Content Security Policy|Refused to/i.test(msg.text())) violations.push(msg.text());
      });
      const verifier = randomBytes(32).toString('base64url');
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      const state = randomUUID();
      const authorize = new URL(`${base}/oauth2/authorize`);
      for (const [k, v] of Object.entries({
        response_type: 'code',
        client_id: 'browser-portal',
        redirect_uri: `${base}/oauth2/dev-callback`,
        scope: 'openid profile',
        state,
        code_challenge: challenge,
        code_challenge_method: 'S256',
      }))
        authorize.searchParams.set(k, v);

      await page.goto(authorize.href);
      await page.fill('#user', 'dr-browser');
      await page.fill('#pin', '1111');
      await page.click('button[type=submit]');
      assert.match(
        (await page.textContent('[role=alert]')) ?? '',
        /\S/,
        'a wrong passcode shows one generic message',
      );

      await page.fill('#user', 'dr-browser');
      await page.fill('#pin', '2468');
      await page.click('button[type=submit]');
      const picker = await page.content();
      assert.ok(
        picker.includes('Dr &lt;b&gt;Browser&lt;/b&gt; &amp; Co'),
        'the name is shown escaped, not as markup',
      );
      assert.equal(
        await page.locator('b', { hasText: 'Browser' }).count(),
        0,
        'no injected element',
      );
      await page.check('input[name=profile] >> nth=1'); // R8000 at Y12345
      await page.click('button[type=submit]');

      await page.waitForURL((url) => url.pathname === '/oauth2/dev-callback');
      const landed = new URL(page.url());
      assert.equal(landed.searchParams.get('state'), state, 'the state comes back unchanged');
      const code = landed.searchParams.get('code');
      assert.ok(code, 'the redirect carries a code');
      assert.deepEqual(
        violations,
        [],
        'no Content Security Policy violations on the sign-in pages',
      );

      const tokenRes = await fetch(`${base}/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          client_id: 'browser-portal',
          code,
          redirect_uri: `${base}/oauth2/dev-callback`,
          code_verifier: verifier,
        }),
      });
      assert.equal(tokenRes.status, 200);
      const tokens = (await tokenRes.json()) as { access_token: string };
      const claims = JSON.parse(
        Buffer.from(tokens.access_token.split('.')[1], 'base64url').toString(),
      );
      assert.equal(claims.role, 'R8000', 'the chosen profile is in the token');
      assert.equal(claims.org, 'Y12345');
      const read = await fetch(`${base}${PDS}/Patient/${NHS.jane}`, {
        headers: { authorization: `Bearer ${tokens.access_token}`, 'x-request-id': randomUUID() },
      });
      assert.equal(read.status, 200);
      await page.close();
    });
  },
);
