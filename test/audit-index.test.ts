/**
 * The audit search index at the repository seam: built by a catch-up indexer off the write path,
 * in pages, with a checkpoint that only moves forward, safe with several indexers on several
 * connections; and the signed checkpoint store.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { AuditIndexStalledError, indexAuditUpTo } from '../src/audit/audit-indexer.js';
import { openRepository } from '../src/store/open.js';
import type { AuditQuery, AuditRecord } from '../src/audit/types.js';
import type { Repository } from '../src/store/repository.js';
import { isolatedStoreConfig, storesUnderTest } from './helpers/stores.js';

const stores = await storesUnderTest();

const PATIENTS = ['9000000009', '9000000017', '9000000025'];
const USERS = ['u-alice', 'u-bob', 'u-carol', 'u-dan'];
const ORGS = ['A81001', 'B82002'];
const ACTIONS = ['pds.read', 'pds.update', 'scr.view'];
const TYPES = ['patient-record', 'emergency-access', 'security'];

/** A varied record, the i-th of a deterministic set (so expectations can be computed from the list). */
function record(i: number): AuditRecord {
  return {
    time: new Date(Date.UTC(2026, 0, 1 + (i % 20), i % 24, 0, 0, i)).toISOString(),
    requestId: `req-${i}`,
    userId: USERS[i % USERS.length],
    userName: `User ${i % USERS.length}`,
    actorKind: 'user',
    role: 'R8000',
    org: ORGS[i % ORGS.length],
    patient: i % 5 === 4 ? null : PATIENTS[i % PATIENTS.length],
    action: ACTIONS[i % ACTIONS.length],
    outcome: 'success',
    type: i % 7 === 0 ? undefined : TYPES[i % TYPES.length],
  };
}

function matches(r: AuditRecord, q: AuditQuery): boolean {
  return (
    (q.patient === undefined || r.patient === q.patient) &&
    (q.userId === undefined || r.userId === q.userId) &&
    (q.org === undefined || r.org === q.org) &&
    (q.action === undefined || r.action === q.action) &&
    (q.type === undefined || (r.type ?? 'patient-record') === q.type) &&
    (q.timeFrom === undefined || r.time >= q.timeFrom) &&
    (q.timeBefore === undefined || r.time < q.timeBefore)
  );
}

/** Deletes one audit entry behind the store's back (as only someone with database access could). */
async function deleteEntry(
  config: Awaited<ReturnType<typeof isolatedStoreConfig>>['config'],
  seq: number,
): Promise<void> {
  if (config.store === 'sqlite') {
    const db = new Database(join(config.dataDir, 'openspine.db'));
    db.exec('DROP TRIGGER audit_log_no_delete');
    db.prepare('DELETE FROM audit_log WHERE seq = ?').run(seq);
    db.close();
    return;
  }
  const client = new pg.Client({
    connectionString: config.databaseUrl,
    options: `-c search_path=${config.databaseSchema}`,
  });
  await client.connect();
  await client.query('ALTER TABLE audit_log DISABLE TRIGGER ALL');
  await client.query('DELETE FROM audit_log WHERE seq = $1', [seq]);
  await client.end();
}

for (const kind of stores) {
  describe(`audit index (${kind})`, () => {
    let repo: Repository;
    let cleanup: () => Promise<void>;
    const records = Array.from({ length: 60 }, (_, i) => record(i));

    before(async () => {
      const iso = await isolatedStoreConfig(kind);
      cleanup = iso.cleanup;
      repo = await openRepository(iso.config);
      // several batches, as the group committer and writes produce them
      for (let i = 0; i < records.length; i += 7)
        await repo.commit({ audit: records.slice(i, i + 7) });
    });
    after(async () => {
      await repo.close();
      await cleanup();
    });

    it('appending does not index: the index stays at its checkpoint until an indexer runs', async () => {
      assert.equal(await repo.audit.auditIndexCheckpoint(), 0);
      assert.deepEqual(await repo.audit.searchAudit({}, 10), []);
      assert.equal(await repo.audit.countAudit({}), 0);
    });

    it('indexes in pages, each page moving the checkpoint, and a caught-up indexer does nothing', async () => {
      assert.deepEqual(await repo.audit.indexAuditPage(25), { checkpoint: 25, indexed: 25 });
      assert.equal(await repo.audit.auditIndexCheckpoint(), 25);
      assert.deepEqual(
        await repo.audit.searchAudit({}, 100),
        Array.from({ length: 25 }, (_, i) => 25 - i),
      );
      assert.equal(await indexAuditUpTo(repo, 60, { pageSize: 10 }), 60);
      assert.deepEqual(await repo.audit.indexAuditPage(25), { checkpoint: 60, indexed: 0 });
      assert.equal(await repo.audit.countAudit({}), 60);
    });

    it('finds entries by patient, user, org, action, type and time, newest first, and counts them', async () => {
      const queries: AuditQuery[] = [
        { patient: PATIENTS[0] },
        { patient: PATIENTS[2] },
        { userId: 'u-bob' },
        { org: 'B82002' },
        { action: 'scr.view' },
        { type: 'patient-record' },
        { type: 'emergency-access' },
        { type: 'security' },
        { timeFrom: '2026-01-05T00:00:00.000Z' },
        { timeBefore: '2026-01-03T00:00:00.000Z' },
        {
          timeFrom: '2026-01-04T00:00:00.000Z',
          timeBefore: '2026-01-06T00:00:00.000Z',
          org: 'A81001',
        },
        { patient: PATIENTS[1], userId: 'u-alice' },
        { userId: 'nobody' },
      ];
      for (const q of queries) {
        const expected = records
          .map((r, i) => ({ r, seq: i + 1 }))
          .filter(({ r }) => matches(r, q))
          .map(({ seq }) => seq)
          .reverse();
        assert.deepEqual(await repo.audit.searchAudit(q, 1000), expected, JSON.stringify(q));
        assert.equal(await repo.audit.countAudit(q), expected.length, JSON.stringify(q));
      }
    });

    it('pages with a cursor and a snapshot bound, and limits', async () => {
      const q: AuditQuery = { org: 'A81001' };
      const all = await repo.audit.searchAudit(q, 1000);
      assert.deepEqual(await repo.audit.searchAudit(q, 4), all.slice(0, 4));
      assert.deepEqual(
        await repo.audit.searchAudit({ ...q, beforeSeq: all[3] }, 4),
        all.slice(4, 8),
      );
      assert.deepEqual(
        await repo.audit.searchAudit({ ...q, maxSeq: 30 }, 1000),
        all.filter((s) => s <= 30),
      );
      assert.equal(
        await repo.audit.countAudit({ ...q, maxSeq: 30 }),
        all.filter((s) => s <= 30).length,
      );
    });

    it('reads entries by seq, in seq order, skipping seqs that do not exist', async () => {
      const entries = await repo.audit.readAuditEntries([40, 3, 999, 17]);
      assert.deepEqual(
        entries.map((e) => e.seq),
        [3, 17, 40],
      );
      assert.deepEqual(
        entries.map((e) => e.record),
        [records[2], records[16], records[39]],
      );
      assert.equal(entries[0].recordJson, JSON.stringify(records[2]));
      assert.deepEqual(await repo.audit.readAuditEntries([]), []);
    });

    it('stores signed checkpoints first-wins, lists them by range and finds the latest before a seq', async () => {
      const cp = (seq: number, jws = `jws-${seq}`) => ({
        seq,
        hash: `h${seq}`,
        time: `2026-01-0${(seq % 9) + 1}T00:00:00.000Z`,
        jws,
      });
      assert.equal(await repo.audit.latestAuditCheckpoint(), null);
      assert.equal(await repo.audit.saveAuditCheckpoint(cp(10)), true);
      assert.equal(
        await repo.audit.saveAuditCheckpoint(cp(10, 'another')),
        false,
        'a second checkpoint for the same seq is refused',
      );
      assert.equal(await repo.audit.saveAuditCheckpoint(cp(30)), true);
      assert.equal(await repo.audit.saveAuditCheckpoint(cp(50)), true);
      assert.deepEqual(await repo.audit.auditCheckpoints(10, 30), [cp(10), cp(30)]);
      assert.deepEqual(await repo.audit.auditCheckpoints(11, 29), []);
      assert.deepEqual(await repo.audit.latestAuditCheckpoint(), cp(50));
      assert.deepEqual(await repo.audit.latestAuditCheckpoint(30), cp(10));
      assert.equal(await repo.audit.latestAuditCheckpoint(10), null);
    });
  });

  describe(`audit index over a damaged log (${kind})`, () => {
    it('stops at a missing entry instead of skipping it', async () => {
      const iso = await isolatedStoreConfig(kind);
      const repo = await openRepository(iso.config);
      try {
        await repo.commit({ audit: [record(1), record(2), record(3), record(4), record(5)] });
        await deleteEntry(iso.config, 3);
        assert.deepEqual(await repo.audit.indexAuditPage(10), { checkpoint: 2, indexed: 2 });
        assert.deepEqual(
          await repo.audit.indexAuditPage(10),
          { checkpoint: 2, indexed: 0 },
          'no progress past the hole',
        );
        await assert.rejects(
          indexAuditUpTo(repo, 5, { stallLimitMs: 100 }),
          AuditIndexStalledError,
        );
        assert.deepEqual(await repo.audit.searchAudit({}, 10), [2, 1]);
      } finally {
        await repo.close();
        await iso.cleanup();
      }
    });
  });

  describe(`audit indexers running at once on several connections (${kind})`, () => {
    it('index every entry exactly once while entries are being appended', async () => {
      const iso = await isolatedStoreConfig(kind);
      const repos: Repository[] = [];
      try {
        for (let i = 0; i < 4; i++) repos.push(await openRepository(iso.config));
        let writing = true;
        const writers = repos.map(async (r, w) => {
          for (let b = 0; b < 40; b++) {
            await r.commit({
              audit: Array.from({ length: 1 + (b % 4) }, (_, k) => record(w * 1000 + b * 10 + k)),
            });
          }
        });
        const indexers = repos.map(async (r) => {
          let pages = 0;
          while (writing) {
            await r.audit.indexAuditPage(3 + (pages % 5));
            pages++;
            await new Promise((resolve) => setImmediate(resolve));
          }
          return pages;
        });
        await Promise.all(writers);
        writing = false;
        const pages = await Promise.all(indexers);
        assert.ok(
          pages.every((n) => n > 0),
          `every indexer ran: ${pages}`,
        );
        const head = await repos[0].audit.auditHead();
        // the indexers and a final catch-up from every connection meet at the head
        const reached = await Promise.all(
          repos.map((r) => indexAuditUpTo(r, head.seq, { pageSize: 4 })),
        );
        assert.ok(
          reached.every((c) => c >= head.seq),
          `all reached the head ${head.seq}: ${reached}`,
        );
        assert.equal(await repos[1].audit.auditIndexCheckpoint(), head.seq);
        const seqs = await repos[2].audit.searchAudit({}, head.seq + 10);
        assert.equal(seqs.length, head.seq, 'no entry skipped, none twice');
        assert.deepEqual(
          seqs,
          Array.from({ length: head.seq }, (_, i) => head.seq - i),
        );
        // and each index row says what its entry says
        const entries = await repos[3].audit.readAudit(0, head.seq);
        for (const q of [
          { userId: USERS[1] },
          { patient: PATIENTS[2] },
          { type: 'security' },
          { org: 'B82002', action: 'pds.update' },
        ] as AuditQuery[]) {
          const expected = entries
            .filter((e) => matches(e.record, q))
            .map((e) => e.seq)
            .reverse();
          assert.deepEqual(
            await repos[0].audit.searchAudit(q, 10_000),
            expected,
            JSON.stringify(q),
          );
        }
        for (const e of entries.slice(0, 20)) {
          const r = e.record;
          const exact: AuditQuery = {
            patient: r.patient ?? undefined,
            userId: r.userId,
            org: r.org,
            action: r.action,
            type: r.type ?? 'patient-record',
            timeFrom: r.time,
            timeBefore: r.time + 'Z',
          };
          assert.ok(
            (await repos[1].audit.searchAudit(exact, 10_000)).includes(e.seq),
            `entry ${e.seq} is found by all of its fields`,
          );
        }
      } finally {
        await Promise.all(repos.map((r) => r.close()));
        await iso.cleanup();
      }
    });
  });
}
