/**
 * The operations journey in a real browser: a Systems Support user (R8015) sees the platform's
 * health as GET /messaging/status reports it (the store, the bus, the audit signer, queues, dead
 * letters), sees a message that failed every attempt appear, and replays it from the page (the
 * dead-letter API then shows it replayed); a replay someone else already made is explained on the
 * page, with JavaScript off. A clinician has no link to the page and is refused it. Run on each
 * store: the figures name the store.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { message, waitFor } from './helpers/messaging.js';
import { storesUnderTest } from './helpers/stores.js';
import {
  addStaff,
  browserSkip,
  expectAccessible,
  launchBrowser,
  mainText,
  openPage,
  screenshot,
  signInStaff,
  startWebPlatform,
  type WebPlatform,
} from './helpers/web-browser.js';

const OPS = {
  id: 'ops-web',
  name: 'Sam Support',
  pin: '1357',
  profiles: [{ role: 'R8015', org: 'X26' }],
};
const GP = {
  id: 'gp-ops-web',
  name: 'Dr Clinic Ian',
  pin: '8642',
  profiles: [{ role: 'R8000', org: 'A81001' }],
};
const STORE_NAMES = { sqlite: /SQLite/, postgres: /PostgreSQL/ };

for (const kind of await storesUnderTest()) {
  describe(`web application: service health (${kind})`, { skip: browserSkip() }, () => {
    let web: WebPlatform;
    let browser: Browser;
    let healed = false;
    const handled: string[] = [];

    before(async () => {
      web = await startWebPlatform(kind, {
        extraRoutes: (app) =>
          app.bus.consume(
            { name: 'test.poison', topics: ['test.poison'], maxAttempts: 1, retryDelayMs: 10 },
            async (m) => {
              if (!healed) throw new Error('the test handler is broken');
              handled.push(m.id);
            },
          ),
      });
      await addStaff(web.platform, OPS);
      await addStaff(web.platform, GP);
      browser = await launchBrowser();
    });
    after(async () => {
      await browser?.close();
      await web?.close();
    });

    const apiAs = async (url: string) =>
      web.platform.request({ url, token: await web.platform.token('R8015', { org: 'X26' }) });
    const deadLetters = async () =>
      (await web.platform.repo.messaging.listDeadLetters({ limit: 50 })).filter(
        (l) => l.consumer === 'test.poison',
      );
    async function poison(count: number): Promise<void> {
      const before = (await deadLetters()).length;
      await web.platform.repo.commit({
        messages: Array.from({ length: count }, (_, i) =>
          message('test.poison', `key-${before + i}`, { n: i }),
        ),
      });
      await waitFor(
        'the dead letters',
        async () => (await deadLetters()).length === before + count,
      );
    }

    it('the operations user sees the store and the bus healthy, then a dead letter, and replays it', async () => {
      const { page, cspViolations } = await openPage(browser);
      await signInStaff(page, web.base, OPS, { role: 'R8015', org: 'X26' });
      await page.getByRole('link', { name: 'Service health' }).first().click();
      await page.waitForURL(`${web.base}/app/operations`);
      let text = await mainText(page);
      assert.match(text, /The platform is Healthy/);
      const store = (await page.getByTestId('store').innerText()).replace(/\s+/g, ' ');
      assert.match(store, STORE_NAMES[kind]);
      assert.match(store, /Reachable Yes/);
      assert.match(store, /Takes writes Yes/);
      const bus = (await page.getByTestId('bus').innerText()).replace(/\s+/g, ' ');
      assert.match(bus, /Embedded/);
      assert.match(bus, /Connected Yes/);
      assert.match(await page.getByTestId('part-store').innerText(), /Healthy/);
      assert.match(await page.getByTestId('part-bus').innerText(), /Healthy/);
      assert.match(await page.getByTestId('dead-letter-counts').innerText(), /^0 waiting/);
      assert.match(
        await page.getByTestId('node').innerText(),
        new RegExp(web.platform.config.nodeId),
      );
      await expectAccessible(page, 'service health');
      await screenshot(page, 'operations-health');

      // a message fails every attempt: the page shows it, and the status is degraded
      await poison(1);
      await page.reload();
      text = await mainText(page);
      assert.match(text, /The platform is Degraded/);
      assert.match(await page.getByTestId('part-deadLetters').innerText(), /Degraded/);
      assert.match(
        await page.getByTestId('dead-letter-counts').innerText(),
        /^1 waiting for replay, 1 in all/,
      );
      const row = page.getByTestId('dead-letter');
      assert.equal(await row.count(), 1);
      assert.match(await row.innerText(), /test\.poison[\s\S]*the test handler is broken/);
      assert.match(await page.getByTestId('consumer-test.poison').innerText(), /1\s*$/);
      await expectAccessible(page, 'service health with a dead letter');
      await screenshot(page, 'operations-dead-letter');

      // fixed, then replayed from the page: it reaches its consumer and the API shows it replayed
      healed = true;
      const [letter] = await deadLetters();
      await row.getByRole('button', { name: /^Replay/ }).click();
      await page.waitForURL(`${web.base}/app/operations?replayed=1`);
      assert.match(await page.getByTestId('replay-done').innerText(), /sent back to its consumer/);
      assert.match(await page.getByTestId('dead-letter').innerText(), /Replayed/);
      assert.match(
        await page.getByTestId('dead-letter-counts').innerText(),
        /^0 waiting for replay, 1 in all/,
      );
      await expectAccessible(page, 'service health after a replay');
      const api = await apiAs(`/messaging/dead-letters/${letter.id}`);
      assert.equal(api.statusCode, 200);
      assert.ok(api.json().replayedAt, 'the API shows the dead letter replayed');
      await waitFor('the replayed message to be handled', () =>
        handled.includes(letter.message.id),
      );
      assert.deepEqual(cspViolations, []);
    });

    it('a replay someone else made first is explained on the page (JavaScript off)', async () => {
      healed = false;
      await poison(1);
      const { page } = await openPage(browser, { javaScript: false });
      await signInStaff(page, web.base, OPS, { role: 'R8015', org: 'X26' });
      await page.goto(`${web.base}/app/operations`);
      const [newest] = await deadLetters();
      const row = page.getByTestId('dead-letter').first();
      assert.match(await row.innerText(), /Replay/);
      // another operator replays it meanwhile (its cause fixed: it does not fail again)
      healed = true;
      const replay = await web.platform.request({
        method: 'POST',
        url: `/messaging/dead-letters/${newest.id}/$replay`,
        token: await web.platform.token('R8015', { org: 'X26' }),
      });
      assert.equal(replay.statusCode, 200);
      const res = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST'),
        row.getByRole('button', { name: /^Replay/ }).click(),
      ]);
      assert.equal(res[0].status(), 409);
      const text = await mainText(page);
      assert.match(text, /There is a problem/);
      assert.match(text, /already replayed.*Nothing more was sent/);
      assert.match(await page.getByTestId('dead-letter').first().innerText(), /Replayed/);
    });

    it('a clinician has no link to the page and is refused it', async () => {
      const { page, cspViolations } = await openPage(browser);
      await signInStaff(page, web.base, GP, { role: 'R8000', org: 'A81001' });
      assert.equal(await page.getByRole('link', { name: 'Service health' }).count(), 0);
      const res = await page.goto(`${web.base}/app/operations`);
      assert.equal(res?.status(), 403);
      assert.match(await mainText(page), /You do not have permission/);
      await expectAccessible(page, 'service health refused');
      assert.deepEqual(cspViolations, []);
    });
  });
}
