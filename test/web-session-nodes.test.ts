/**
 * The web application's sessions live in the store, not in a node's memory: a person signed in
 * through one node carries on through another node of the same platform (same store, same public
 * URL, same key), and through a node started after the first has stopped (a restart). A second
 * node's pages reach patient data only through its own APIs, so its refusals are the platform's.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import type { Browser } from 'playwright-core';
import { buildApp } from '../src/http/app.js';
import { loadOrCreateSigningKey } from '../src/security/embedded-idp.js';
import { openRepository } from '../src/store/open.js';
import type { Repository } from '../src/store/repository.js';
import { storesUnderTest } from './helpers/stores.js';
import {
  addStaff,
  browserSkip,
  freePort,
  launchBrowser,
  mainText,
  openPage,
  signInStaff,
  startWebPlatform,
  type WebPlatform,
} from './helpers/web-browser.js';

const GP = {
  id: 'dr-nodes',
  name: 'Dr Two Nodes',
  pin: '1357',
  profiles: [{ role: 'R8000', org: 'A81001' }],
};

/** Another node of the same platform: same store and key, same public URL, its own port. */
async function secondNode(web: WebPlatform): Promise<{ url: string; close(): Promise<void> }> {
  const port = await freePort();
  const config = { ...web.platform.config, port };
  const repo: Repository = await openRepository(config);
  const app: FastifyInstance = await buildApp({
    config,
    repo,
    signingKey: await loadOrCreateSigningKey(config.dataDir),
    logger: false,
  });
  await app.listen({ port, host: '127.0.0.1' });
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      await app.close();
      await repo.close();
    },
  };
}

for (const kind of await storesUnderTest()) {
  describe(`web sessions across nodes and restarts (${kind})`, { skip: browserSkip() }, () => {
    let web: WebPlatform;
    let browser: Browser;

    before(async () => {
      web = await startWebPlatform(kind);
      await addStaff(web.platform, GP);
      browser = await launchBrowser();
    });
    after(async () => {
      await browser?.close();
      await web?.close();
    });

    it('a session started on one node is served by another, and survives the first stopping', async () => {
      const { page } = await openPage(browser);
      await signInStaff(page, web.base, GP);
      assert.match(await mainText(page), /Welcome, Dr Two Nodes/);

      // cookies belong to the host, not the port: the same browser reaches the second node
      const nodeB = await secondNode(web);
      try {
        await page.goto(`${nodeB.url}/app`);
        assert.match(await mainText(page), /Welcome, Dr Two Nodes/, 'node B knows the session');
        await page.getByRole('button', { name: 'Sign out' }).click();
        await page.waitForURL(`${nodeB.url}/app?signed-out=1`);
        // signed out on B: A no longer serves the session either
        await page.goto(`${web.base}/app`);
        assert.match(await mainText(page), /Sign in with your smartcard/);

        // a new session, then a node "restart": a fresh node on the same store serves it
        await signInStaff(page, web.base, GP);
        const nodeC = await secondNode(web);
        try {
          await page.goto(`${nodeC.url}/app`);
          assert.match(await mainText(page), /Welcome, Dr Two Nodes/, 'a new node serves it');
        } finally {
          await nodeC.close();
        }
      } finally {
        await nodeB.close();
      }
    });
  });
}
