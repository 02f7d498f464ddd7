/**
 * The NATS JetStream bus against a real nats-server: each test has its own stream (deleted after),
 * its own store, and several buses standing for several nodes.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NatsBus, type NatsBusOptions } from '../src/messaging/nats/nats-bus.js';
import type { MessageBus } from '../src/messaging/types.js';
import type { Repository } from '../src/store/repository.js';
import {
  deleteStream,
  OwnNatsServer,
  SHARED_NATS_URL,
  testStreamName,
} from './helpers/nats-server.js';
import { message, waitFor, withRepo } from './helpers/messaging.js';
import { storesUnderTest } from './helpers/stores.js';

const kinds = await storesUnderTest();
const multiNode = kinds.includes('postgres') ? 'postgres' : 'sqlite';

/** Buses over the given repositories on one stream; stopped and the stream deleted afterwards. */
async function withBuses(
  url: string,
  repos: Repository[],
  options: Partial<NatsBusOptions>,
  fn: (buses: NatsBus[], stream: string) => Promise<void>,
) {
  const stream = testStreamName();
  const buses = repos.map(
    (repo, i) =>
      new NatsBus(repo.messaging, {
        url,
        stream,
        nodeId: `node-${i}`,
        pollMs: 20,
        partitions: 4,
        ...options,
      }),
  );
  try {
    await fn(buses, stream);
  } finally {
    await Promise.all(buses.map((b) => b.stop()));
    await deleteStream(url, stream).catch(() => {});
  }
}

const startAll = (buses: MessageBus[]) => Promise.all(buses.map((b) => b.start()));

for (const kind of kinds) {
  describe(`NATS bus (${kind})`, () => {
    it('delivers each message once per consumer name, per-key in outbox order, across two nodes', async () => {
      await withRepo(kind, async (repo, open) => {
        const repos = [repo, await open()];
        await withBuses(SHARED_NATS_URL, repos, {}, async (buses) => {
          const seen = new Map<string, number>();
          const byKey = new Map<string, number[]>();
          const audit: string[] = [];
          buses.forEach((bus) => {
            bus.consume({ name: 'order.check', topics: ['t.*'] }, async (m) => {
              seen.set(m.id, (seen.get(m.id) ?? 0) + 1);
              byKey.set(m.key, [...(byKey.get(m.key) ?? []), (m.body as { n: number }).n]);
            });
            bus.consume({ name: 'audit', topics: ['t.b'] }, async (m) => {
              audit.push(m.id);
            });
          });
          await startAll(buses);
          const n = 60;
          for (let i = 0; i < n; i++) {
            await repos[i % 2].commit({
              messages: [message(i % 3 ? 't.a' : 't.b', `k${i % 5}`, { n: i })],
            });
          }
          await waitFor('every message handled', () => seen.size === n);
          await waitFor(
            'the t.b messages reached the second consumer',
            () => audit.length === n / 3,
          );
          assert.ok(
            [...seen.values()].every((c) => c === 1),
            'each message handled exactly once across both nodes',
          );
          for (const [key, ns] of byKey)
            assert.deepEqual(
              ns,
              [...ns].sort((a, b) => a - b),
              `key ${key} arrived in outbox order`,
            );
          assert.equal(new Set(audit).size, audit.length, 'no duplicates for the second consumer');
        });
      });
    });
  });
}

describe('NATS bus failures', () => {
  it('retries with backoff, dead-letters after maxAttempts, lets the key move on, and replays from the store', async () => {
    await withRepo(multiNode, async (repo) => {
      await withBuses(SHARED_NATS_URL, [repo], {}, async ([bus]) => {
        const attempts: number[] = [];
        const handled: string[] = [];
        let healed = false;
        bus.consume(
          { name: 'flaky', topics: ['t.a'], maxAttempts: 3, retryDelayMs: 20 },
          async (m) => {
            if ((m.body as { bad?: boolean }).bad && !healed) {
              attempts.push(m.attempt);
              throw new Error('cannot handle yet');
            }
            handled.push(m.id);
          },
        );
        await bus.start();
        const bad = message('t.a', 'k1', { bad: true }),
          later = message('t.a', 'k1', { n: 2 });
        await repo.commit({ messages: [bad, later] });
        await waitFor('the later message of the key', () => handled.includes(later.id));
        assert.deepEqual(attempts, [1, 2, 3], 'three attempts, counted by the bus');
        const [letter] = await repo.messaging.listDeadLetters({ consumer: 'flaky', limit: 10 });
        assert.equal(letter?.message.id, bad.id, 'the failed message is a dead letter');
        assert.equal(letter.attempts, 3);
        assert.match(letter.lastError, /cannot handle yet/);
        healed = true;
        assert.equal(await repo.messaging.replayDeadLetter(letter.id), 'replayed');
        await waitFor('the replayed message', () => handled.includes(bad.id));
        // the handler runs before the bus records the delivery as done: wait for the record, not the handler
        await waitFor(
          'the replayed delivery recorded as done',
          async () => (await repo.messaging.deliveryState('flaky', bad.id)) === 'done',
        );
        assert.equal(await repo.messaging.replayDeadLetter(letter.id), 'already-replayed');
      });
    });
  });

  it('skips a duplicate of a message the consumer already finished (message id dedupe)', async () => {
    await withRepo(multiNode, async (repo) => {
      await withBuses(SHARED_NATS_URL, [repo], { partitions: 1 }, async ([bus, _], stream) => {
        const calls: string[] = [];
        bus.consume({ name: 'dedupe', topics: ['t.a'] }, async (m) => {
          calls.push(m.id);
        });
        await bus.start();
        const first = message('t.a', 'k');
        await repo.commit({ messages: [first] });
        await waitFor('first delivery', () => calls.length === 1);
        // the same message published again under a new Nats-Msg-Id (past the duplicate window), then a marker behind it
        const [record] = await repo.messaging.readOutbox(0, 1);
        const { connect } = await import('nats');
        const nc = await connect({ servers: SHARED_NATS_URL });
        await nc.jetstream().publish(`${stream.toLowerCase()}.0.t.a`, JSON.stringify(record), {
          msgID: 'again-' + record.id,
        });
        await nc.close();
        const marker = message('t.a', 'k');
        await repo.commit({ messages: [marker] });
        await waitFor('the marker behind the duplicate', () => calls.includes(marker.id));
        assert.deepEqual(calls, [first.id, marker.id], 'the duplicate never reached the handler');
      });
    });
  });

  it('keeps messages in the outbox while NATS is down and relays every one once it is back', async () => {
    const server = await OwnNatsServer.start();
    try {
      await withRepo(multiNode, async (repo) => {
        await withBuses(server.url, [repo], {}, async ([bus]) => {
          const seen = new Map<string, number>();
          bus.consume({ name: 'catch-up', topics: ['t.*'] }, async (m) => {
            seen.set(m.id, (seen.get(m.id) ?? 0) + 1);
          });
          await bus.start();
          const before = message('t.a', 'k0');
          await repo.commit({ messages: [before] });
          await waitFor('delivery before the outage', () => seen.has(before.id));
          await server.pause();
          const during = Array.from({ length: 20 }, (_, i) =>
            message('t.a', `k${i % 4}`, { n: i }),
          );
          for (const m of during) await repo.commit({ messages: [m] });
          const waiting = await repo.messaging.unrelayed(100);
          assert.ok(waiting.length > 0, 'the outbox holds messages while NATS is down');
          await server.resume();
          await waitFor(
            'every message after the outage',
            () => during.every((m) => seen.has(m.id)),
            30_000,
          );
          assert.ok(
            [...seen.values()].every((c) => c === 1),
            'each message handled once',
          );
          // the relay marks a message relayed once NATS acknowledges it, which can be after a
          // consumer has already been handed it: wait for the marks rather than race them
          await waitFor(
            'the outbox fully relayed',
            async () => (await repo.messaging.unrelayed(100)).length === 0,
            30_000,
          );
        });
      });
    } finally {
      await server.close();
    }
  });
});
