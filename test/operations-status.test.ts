/**
 * GET /messaging/status, the operators' detailed status (activity messaging.admin, role R8015):
 * the store, the bus, the audit chain and its signed checkpoints, queue depths and dead letters,
 * each judged pass / warn / fail. The figures move with real traffic: a message held by its
 * consumer is pending, a poisoned one becomes a dead letter, a replay clears it, a signed checkpoint
 * shows; on the NATS bus the relay's backlog shows, and a bus that cannot reach NATS is failing.
 * Every look is audited; other roles get 403 and no token 401.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AuditCheckpointSigner } from '../src/audit/checkpoint-signer.js';
import type { PlatformStatus } from '../src/services/messaging/status-judgement.js';
import { message, waitFor } from './helpers/messaging.js';
import { deleteStream, SHARED_NATS_URL, testStreamName } from './helpers/nats-server.js';
import { startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';

const NHS = '9000000009';
const STATUS = '/messaging/status';

for (const kind of await storesUnderTest()) {
  describe(`operations status API (${kind})`, () => {
    let platform: TestPlatform;
    let admin: string;
    let healed = false;
    let entered = 0;
    let release: () => void = () => {};
    let gate = Promise.resolve();
    before(async () => {
      platform = await startTestPlatform(kind, {
        extraRoutes: (app) => {
          app.bus.consume({ name: 'test.held', topics: ['test.held'] }, async () => {
            entered++;
            await gate;
          });
          app.bus.consume(
            { name: 'test.poison', topics: ['test.poison'], maxAttempts: 1, retryDelayMs: 10 },
            async () => {
              if (!healed) throw new Error('handler is broken');
            },
          );
        },
      });
      admin = await platform.token('R8015', { user: 'support-1', org: 'X26' });
    });
    after(() => platform.close());

    async function status(): Promise<PlatformStatus> {
      const res = await platform.request({ url: STATUS, token: admin });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.headers['cache-control'], 'no-store');
      return res.json();
    }
    const queueOf = (s: PlatformStatus, consumer: string) =>
      s.queues.consumers.find((c) => c.consumer === consumer);

    it('reports the store, the bus and the node, each healthy, and audits the look', async () => {
      const s = await status();
      assert.equal(s.status, 'pass', JSON.stringify(s));
      assert.deepEqual(
        {
          kind: s.store.kind,
          reachable: s.store.reachable,
          commit: s.store.commitWorking,
          patients: s.store.patients,
        },
        { kind, reachable: true, commit: true, patients: 0 },
      );
      assert.equal(s.bus.kind, 'embedded');
      assert.equal(s.bus.connected, true);
      assert.ok(s.bus.consumers.includes('test.held') && s.bus.consumers.includes('test.poison'));
      assert.equal(s.node.id, platform.config.nodeId);
      assert.ok(s.node.uptimeSeconds >= 0);
      assert.equal(s.deadLetters.total, 0);
      assert.equal(s.audit.status, 'pass');

      // the look itself is an audit entry: the chain is one longer at the next look
      const next = await status();
      assert.equal(next.audit.chainLength, s.audit.chainLength! + 1);
      const looks = (await platform.repo.audit.readAudit(0, 10_000)).filter(
        (e) => e.record.action === 'messaging.status.read',
      );
      assert.ok(looks.length >= 2);
      assert.ok(
        looks.every((e) => e.record.userId === 'support-1' && e.record.type === 'security'),
      );
    });

    it('a message waiting for its consumer is pending, and leaves the queue when handled', async () => {
      const start = await status();
      gate = new Promise<void>((resolve) => (release = resolve));
      await platform.repo.commit({ messages: [message('test.held', NHS, { n: 1 })] });
      await waitFor('the consumer to take the message', () => entered === 1);
      const held = await status();
      assert.equal(held.queues.outboxHead, start.queues.outboxHead! + 1);
      const queue = queueOf(held, 'test.held');
      assert.equal(queue?.pending, 1, JSON.stringify(held.queues));
      assert.ok(queue?.oldestPendingAt, 'the oldest waiting message is dated');
      assert.equal(queue?.registered, true);

      release();
      await waitFor(
        'the queue to empty',
        async () => queueOf(await status(), 'test.held')?.pending === 0,
      );
      const done = await status();
      assert.equal(queueOf(done, 'test.held')?.oldestPendingAt, null);
      assert.equal(queueOf(done, 'test.held')?.behind, 0, 'the cursor has caught up');
    });

    it('a dead letter shows (without its body), degrades the status, and a replay clears it', async () => {
      await platform.repo.commit({ messages: [message('test.poison', NHS, { secret: 'x' })] });
      await waitFor(
        'the dead letter',
        async () => (await platform.repo.messaging.listDeadLetters({ limit: 5 })).length === 1,
      );
      const res = await platform.request({ url: STATUS, token: admin });
      const s = res.json() as PlatformStatus;
      assert.equal(s.status, 'warn');
      assert.equal(s.deadLetters.status, 'warn');
      assert.deepEqual([s.deadLetters.total, s.deadLetters.awaitingReplay], [1, 1]);
      assert.equal(queueOf(s, 'test.poison')?.deadLetters, 1);
      const [letter] = s.deadLetters.newest;
      assert.equal(letter.topic, 'test.poison');
      assert.equal(letter.consumer, 'test.poison');
      assert.match(letter.lastError, /handler is broken/);
      assert.equal(letter.replayedAt, null);
      assert.doesNotMatch(res.body, new RegExp(NHS), 'no message key');
      assert.doesNotMatch(res.body, /secret/, 'no message body');
      const audit = await platform.repo.audit.readAudit(0, 10_000);
      assert.ok(
        audit.some((e) => e.record.action === 'messaging.status.read' && e.record.patient === NHS),
        'the patient whose dead letter was listed is named in the audit',
      );

      healed = true;
      const replay = await platform.request({
        method: 'POST',
        url: `/messaging/dead-letters/${letter.id}/$replay`,
        token: admin,
      });
      assert.equal(replay.statusCode, 200, replay.body);
      await waitFor(
        'the replay to be handled',
        async () => queueOf(await status(), 'test.poison')?.pending === 0,
      );
      const cleared = await status();
      assert.deepEqual([cleared.deadLetters.total, cleared.deadLetters.awaitingReplay], [1, 0]);
      assert.ok(cleared.deadLetters.newest[0].replayedAt);
      assert.equal(cleared.status, 'pass');
    });

    it('shows the last signed audit checkpoint and how many entries wait for the next', async () => {
      const signed = await new AuditCheckpointSigner(platform.repo, platform.key).tick();
      assert.ok(signed);
      const s = await status();
      assert.equal(s.audit.checkpoint?.seq, signed.seq);
      assert.equal(s.audit.checkpoint?.time, signed.time);
      assert.equal(s.audit.chainLength, signed.seq, 'nothing was audited since the checkpoint');
      assert.equal(s.audit.unsignedEntries, 0);
      // this look was audited after the checkpoint: the next look finds one entry unsigned
      assert.equal((await status()).audit.unsignedEntries, 1);
      assert.equal(s.audit.intervalSeconds, platform.config.auditCheckpointSeconds);
    });

    it('refuses other roles (403) and callers without a token (401)', async () => {
      for (const role of ['R8000', 'R5080']) {
        const res = await platform.request({ url: STATUS, token: await platform.token(role) });
        assert.equal(res.statusCode, 403, role);
        assert.match(res.json().issue[0].diagnostics, /is not permitted to perform/);
      }
      const none = await platform.request({ url: STATUS, token: null });
      assert.equal(none.statusCode, 401);
      assert.doesNotMatch(none.body, /outboxHead|chainLength/);
    });
  });
}

// the bus does not depend on the store: one store keeps the suite quick
const [natsStore] = await storesUnderTest();
describe(`operations status API on the NATS bus (${natsStore})`, () => {
  async function statusOf(platform: TestPlatform): Promise<PlatformStatus> {
    const res = await platform.request({ url: STATUS, token: await platform.token('R8015') });
    assert.equal(res.statusCode, 200, res.body);
    return res.json();
  }

  it('shows the bus connected and the relay caught up with what was published', async () => {
    const stream = testStreamName();
    const platform = await startTestPlatform(natsStore, {
      config: { messaging: 'nats', natsUrl: SHARED_NATS_URL, natsStream: stream },
    });
    try {
      await waitFor(
        'the bus to connect',
        async () => (await statusOf(platform)).bus.connected === true,
      );
      const start = await statusOf(platform);
      assert.equal(start.bus.kind, 'nats');
      assert.ok(start.queues.relay, 'the relay backlog is reported on NATS');
      await platform.repo.commit({ messages: [message('test.nobody', NHS)] });
      await waitFor(
        'the relay',
        async () => (await statusOf(platform)).queues.relay?.unrelayed === 0,
      );
      const s = await statusOf(platform);
      assert.equal(s.queues.outboxHead, start.queues.outboxHead! + 1);
      assert.equal(s.bus.status, 'pass');
      assert.ok(
        s.queues.consumers.every((c) => c.behind === null),
        'no cursors on NATS',
      );
    } finally {
      await platform.close();
      await deleteStream(SHARED_NATS_URL, stream).catch(() => {});
    }
  });

  it('a bus that cannot reach NATS is failing, and messages wait in the outbox', async () => {
    const platform = await startTestPlatform(natsStore, {
      config: { messaging: 'nats', natsUrl: 'nats://127.0.0.1:1', natsStream: testStreamName() },
    });
    try {
      await platform.repo.commit({ messages: [message('test.nobody', NHS)] });
      const s = await statusOf(platform);
      assert.equal(s.status, 'fail');
      assert.deepEqual([s.bus.status, s.bus.running, s.bus.connected], ['fail', true, false]);
      assert.match(s.bus.note ?? '', /cannot reach the NATS server/);
      assert.equal(s.queues.relay?.unrelayed, 1);
      assert.ok(s.queues.relay?.oldestUnrelayedAt);
      assert.equal(s.store.status, 'pass', 'the store is fine');
    } finally {
      await platform.close();
    }
  });
});
