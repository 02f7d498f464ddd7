import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { PreparedBatch } from '../src/store/postgres/commit-function.js';
import { GroupCommitter, type BatchOutcome } from '../src/store/postgres/group-commit.js';

/** A batch with `rows` resources (only their count matters to the scheduler). */
const batch = (rows: number): PreparedBatch => ({
  resources: Array.from({ length: rows }, () => ({}) as PreparedBatch['resources'][number]),
  audit: [],
  messages: [],
  time: '',
});

/** Records each group the committer sends and how many were on their way at once; answers when released. */
function recorder() {
  const groups: number[][] = [];
  let inFlight = 0,
    most = 0;
  const waiting: (() => void)[] = [];
  const run = async (batches: PreparedBatch[]): Promise<BatchOutcome[]> => {
    groups.push(batches.map((b) => b.resources.length));
    most = Math.max(most, ++inFlight);
    await new Promise<void>((resolve) => waiting.push(resolve));
    inFlight--;
    return batches.map(() => null);
  };
  const releaseAll = async () => {
    while (waiting.length) {
      waiting.shift()!();
      await new Promise((r) => setImmediate(r));
    }
  };
  return { run, groups, most: () => most, releaseAll };
}

describe('group commit scheduling', () => {
  test('small batches wait for the group on its way and go together, one group at a time', async () => {
    const r = recorder();
    const committer = new GroupCommitter(r.run);
    const done = Array.from({ length: 10 }, () => committer.submit(batch(3)));
    await new Promise((resolve) => setImmediate(resolve));
    await r.releaseAll();
    assert.deepEqual(await Promise.all(done), Array(10).fill(null));
    assert.deepEqual(
      r.groups.map((g) => g.length),
      [1, 9],
    );
    assert.equal(r.most(), 1);
  });

  test('heavy batches (bulk loads) go several at a time', async () => {
    const r = recorder();
    const committer = new GroupCommitter(r.run, { maxInFlight: 2, heavyRows: 500 });
    const done = [
      committer.submit(batch(1000)),
      committer.submit(batch(1000)),
      committer.submit(batch(1000)),
    ];
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(r.most(), 2);
    await r.releaseAll();
    await Promise.all(done);
    assert.deepEqual(r.groups, [[1000], [1000], [1000]]);
  });

  test('a group stops growing at the row budget or the batch limit', async () => {
    const r = recorder();
    const committer = new GroupCommitter(r.run, { maxInFlight: 1, maxGroup: 4, heavyRows: 500 });
    const done = [
      batch(1),
      ...Array.from({ length: 6 }, () => batch(10)),
      batch(490),
      batch(20),
    ].map((b) => committer.submit(b));
    await new Promise((resolve) => setImmediate(resolve));
    await r.releaseAll();
    await Promise.all(done);
    assert.deepEqual(r.groups, [[1], [10, 10, 10, 10], [10, 10, 490], [20]]);
  });
});
