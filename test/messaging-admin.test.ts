/**
 * Dead-letter administration over HTTP (/messaging, role R8015) and the `openspine messages` CLI:
 * list, read, replay to the one consumer, refusals as OperationOutcomes, and every look audited.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { DeliveredMessage } from '../src/messaging/types.js';
import { openRepository } from '../src/store/open.js';
import { killAllChildren, runCli, storeFlags } from './helpers/child-server.js';
import { message, waitFor } from './helpers/messaging.js';
import { startTestPlatform, spineCode, type TestPlatform } from './helpers/platform.js';
import { isolatedStoreConfig, storesUnderTest } from './helpers/stores.js';

const NHS = '9000000009';
const stores = await storesUnderTest();
after(killAllChildren);

for (const kind of stores) {
  describe(`dead-letter API (${kind})`, () => {
    let platform: TestPlatform;
    let admin: string;
    let healed = false;
    const handled: DeliveredMessage[] = [];
    before(async () => {
      platform = await startTestPlatform(kind, {
        extraRoutes: (app) =>
          app.bus.consume(
            { name: 'test.poison', topics: ['test.poison'], maxAttempts: 2, retryDelayMs: 10 },
            async (m) => {
              if (!healed) throw new Error('handler is broken');
              handled.push(m);
            },
          ),
      });
      admin = await platform.token('R8015', { user: 'support-1' });
    });
    after(() => platform.close());

    async function deadLetterOf(id: string) {
      await waitFor('the dead letter', async () =>
        (await platform.repo.messaging.listDeadLetters({ limit: 50 })).some(
          (l) => l.message.id === id,
        ),
      );
      return (await platform.repo.messaging.listDeadLetters({ limit: 50 })).find(
        (l) => l.message.id === id,
      )!;
    }

    it('lists, reads and replays a dead letter; the replay reaches the consumer and is audited', async () => {
      const m = message('test.poison', NHS, { n: 1 });
      await platform.repo.commit({ messages: [m] });
      const letter = await deadLetterOf(m.id);

      const list = await platform.request({
        url: '/messaging/dead-letters?consumer=test.poison&_count=10',
        token: admin,
      });
      assert.equal(list.statusCode, 200, list.body);
      const listed = list.json().deadLetters as {
        id: string;
        attempts: number;
        lastError: string;
        message: { id: string };
      }[];
      assert.deepEqual(
        listed.map((l) => l.message.id),
        [m.id],
      );
      assert.equal(listed[0].attempts, 2);
      assert.match(listed[0].lastError, /handler is broken/);

      const other = await platform.request({
        url: '/messaging/dead-letters?consumer=someone.else',
        token: admin,
      });
      assert.deepEqual(other.json().deadLetters, [], 'filtered by consumer');

      const read = await platform.request({
        url: `/messaging/dead-letters/${letter.id}`,
        token: admin,
      });
      assert.equal(read.statusCode, 200);
      assert.equal(read.json().consumer, 'test.poison');

      healed = true;
      const replay = await platform.request({
        method: 'POST',
        url: `/messaging/dead-letters/${letter.id}/$replay`,
        token: admin,
      });
      assert.equal(replay.statusCode, 200, replay.body);
      assert.ok(replay.json().replayedAt, 'the answer shows the replay time');
      await waitFor('the replayed delivery', () => handled.some((h) => h.id === m.id));

      const again = await platform.request({
        method: 'POST',
        url: `/messaging/dead-letters/${letter.id}/$replay`,
        token: admin,
      });
      assert.equal(again.statusCode, 409);
      assert.equal(spineCode(again), 'DUPLICATE_REJECTED');

      const audit = await platform.repo.audit.readAudit(0, 1000);
      const actions = audit.filter(
        (e) =>
          e.record.action.startsWith('messaging.dead-letters') && e.record.userId === 'support-1',
      );
      assert.deepEqual([...new Set(actions.map((e) => e.record.action))].sort(), [
        'messaging.dead-letters.list',
        'messaging.dead-letters.read',
        'messaging.dead-letters.replay',
      ]);
      const shown = actions.filter((e) => e.record.detail?.count !== 0);
      assert.ok(
        shown.length >= 3 && shown.every((e) => e.record.patient === NHS),
        'the patient whose message was shown is named',
      );
      assert.ok(
        actions.some(
          (e) =>
            e.record.detail?.count === 0 &&
            e.record.patient === null &&
            e.record.type === 'security',
        ),
        'an empty list is a security entry',
      );
      assert.equal(
        actions.filter((e) => e.record.action === 'messaging.dead-letters.replay').length,
        1,
        'only the successful replay is audited as one',
      );
    });

    it('refuses other roles, bad queries and unknown ids with OperationOutcomes', async () => {
      const clinician = await platform.request({ url: '/messaging/dead-letters' });
      assert.equal(clinician.statusCode, 403, 'R8000 may not administer messaging');
      for (const [url, code] of [
        ['/messaging/dead-letters?_count=0', 'INVALID_SEARCH_DATA'],
        ['/messaging/dead-letters?_count=abc', 'INVALID_SEARCH_DATA'],
        ['/messaging/dead-letters?consumer=a%20b', 'INVALID_SEARCH_DATA'],
        ['/messaging/dead-letters?consumer=a&consumer=b', 'INVALID_SEARCH_DATA'],
        ['/messaging/dead-letters?status=x', 'INVALID_SEARCH_DATA'],
        ['/messaging/dead-letters/not-a-uuid', 'INVALID_RESOURCE_ID'],
      ] as const) {
        const res = await platform.request({ url, token: admin });
        assert.equal(res.statusCode, 400, url);
        assert.equal(spineCode(res), code, url);
      }
      const missing = await platform.request({
        url: '/messaging/dead-letters/00000000-0000-4000-8000-000000000000',
        token: admin,
      });
      assert.equal(missing.statusCode, 404);
      assert.equal(spineCode(missing), 'RESOURCE_NOT_FOUND');
      const replayMissing = await platform.request({
        method: 'POST',
        url: '/messaging/dead-letters/00000000-0000-4000-8000-000000000000/$replay',
        token: admin,
      });
      assert.equal(replayMissing.statusCode, 404);
    });
  });
}

describe('openspine messages', () => {
  it('lists dead letters and replays one from the command line', async () => {
    const { config, cleanup } = await isolatedStoreConfig(stores[stores.length - 1]);
    try {
      const repo = await openRepository(config);
      const m = message('test.cli', NHS);
      await repo.commit({ messages: [m] });
      const [record] = await repo.messaging.readOutbox(0, 1);
      await repo.messaging.deadLetter(
        'cli.consumer',
        { ...record, attempt: 5 },
        'Error: downstream refused',
      );
      const [letter] = await repo.messaging.listDeadLetters({ limit: 5 });
      await repo.close();

      const list = await runCli([
        'messages',
        'dead-letters',
        '--consumer',
        'cli.consumer',
        ...storeFlags(config),
      ]);
      assert.equal(list.code, 0, list.stderr);
      assert.match(list.stdout, new RegExp(`${letter.id}\\s+cli\\.consumer\\s+test\\.cli`));
      assert.match(list.stdout, /downstream refused/);

      const bad = await runCli(['messages', 'replay', 'nope', ...storeFlags(config)]);
      assert.equal(bad.code, 2, 'a malformed id is bad input');

      const replay = await runCli(['messages', 'replay', letter.id, ...storeFlags(config)]);
      assert.equal(replay.code, 0, replay.stderr);
      assert.match(replay.stdout, /back to consumer cli\.consumer/);
      const again = await runCli(['messages', 'replay', letter.id, ...storeFlags(config)]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /already replayed/);

      const check = await openRepository(config);
      assert.equal(
        await check.messaging.deliveryState('cli.consumer', m.id),
        'pending',
        'the message waits for its consumer again',
      );
      const audit = await check.audit.readAudit(0, 100);
      assert.ok(
        audit.some(
          (e) =>
            e.record.action === 'messaging.dead-letters.replay' &&
            e.record.userId.startsWith('cli'),
        ),
        'the replay is audited with the operator',
      );
      await check.close();
    } finally {
      await cleanup();
    }
  });
});
