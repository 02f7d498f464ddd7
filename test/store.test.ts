/**
 * The store contract: every Repository implementation must behave the same. Each test gets its own
 * isolated store (temp data dir / own PostgreSQL schema) and cleans it up.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { ChainVerifier, GENESIS_HASH } from '../src/audit/chain.js';
import { openRepository } from '../src/store/open.js';
import { DuplicateRequestError, VersionConflictError } from '../src/store/errors.js';
import type { AuditRecord } from '../src/audit/types.js';
import type { IndexEntry, ResourceWrite, SearchCriterion } from '../src/store/resource-store.js';
import type { Repository } from '../src/store/repository.js';
import { isolatedStoreConfig, storesUnderTest, type StoreKind } from './helpers/stores.js';

type StoreConfig = Awaited<ReturnType<typeof isolatedStoreConfig>>['config'];

interface Ctx {
  kind: StoreKind;
  config: StoreConfig;
  repo: Repository;
  /** Another repository on the same store (another process, in production). */
  open(): Promise<Repository>;
  /** Closes the current repository and opens the store again. */
  reopen(): Promise<Repository>;
}

async function withStore(kind: StoreKind, fn: (ctx: Ctx) => Promise<void>): Promise<void> {
  const { config, cleanup } = await isolatedStoreConfig(kind);
  const opened: Repository[] = [];
  const open = async () => {
    const r = await openRepository(config);
    opened.push(r);
    return r;
  };
  try {
    const ctx: Ctx = {
      kind,
      config,
      repo: await open(),
      open,
      reopen: async () => {
        await ctx.repo.close();
        ctx.repo = await open();
        return ctx.repo;
      },
    };
    await fn(ctx);
  } finally {
    for (const r of opened) await r.close().catch(() => {});
    await cleanup();
  }
}

let requestCounter = 0;
function audit(
  action: string,
  patient: string | null = null,
  extra: Partial<AuditRecord> = {},
): AuditRecord {
  return {
    time: new Date().toISOString(),
    requestId: `req-${++requestCounter}`,
    userId: 'user-1',
    role: 'R8000',
    org: 'X26',
    patient,
    action,
    outcome: 'success',
    ...extra,
  };
}

function write(
  id: string,
  expectedVersion: number,
  family: string,
  more: IndexEntry[] = [],
  type = 'Patient',
): ResourceWrite {
  return {
    type,
    id,
    expectedVersion,
    resource: { resourceType: type, id, name: [{ family }] },
    index: [{ param: 'family', value: family }, ...more],
  };
}

async function verifyChain(repo: Repository) {
  const entries = await repo.audit.readAudit(0, 1_000_000);
  const verifier = new ChainVerifier();
  for (const e of entries) verifier.push(e);
  return { entries, result: verifier.finish() };
}

/** Runs SQL against the store behind the repository's back (as an administrator could). */
async function adminSql(ctx: Ctx, statements: string[]): Promise<void> {
  if (ctx.kind === 'sqlite') {
    const db = new Database(join(ctx.config.dataDir, 'openspine.db'));
    try {
      for (const s of statements) db.exec(s);
    } finally {
      db.close();
    }
  } else {
    const client = new pg.Client({
      connectionString: ctx.config.databaseUrl,
      options: `-c search_path=${ctx.config.databaseSchema}`,
    });
    await client.connect();
    try {
      for (const s of statements) await client.query(s);
    } finally {
      await client.end();
    }
  }
}

const isConflict =
  (type: string, id: string, expected: number, actual: number | null) => (err: unknown) => {
    assert.ok(
      err instanceof VersionConflictError,
      `expected VersionConflictError, got ${String(err)}`,
    );
    assert.deepEqual(
      [err.type, err.id, err.expectedVersion, err.actualVersion],
      [type, id, expected, actual],
    );
    return true;
  };

const eq = (param: string, value: string): SearchCriterion => ({
  any: [{ param, op: 'eq', value }],
});

for (const kind of await storesUnderTest()) {
  describe(`store contract (${kind})`, () => {
    const test = (name: string, fn: (ctx: Ctx) => Promise<void>) =>
      it(name, () => withStore(kind, fn));

    test('create then read', async ({ repo }) => {
      const input = write('p1', 0, 'smith');
      const [stored] = await repo.commit({ resources: [input] });
      assert.equal(stored.version, 1);
      assert.equal(stored.resource.meta.versionId, '1');
      assert.equal(stored.resource.meta.lastUpdated, stored.lastUpdated);
      assert.equal(input.resource.meta, undefined, "the caller's document is not modified");
      const read = await repo.read('Patient', 'p1');
      assert.deepEqual(read, stored);
      assert.deepEqual(read!.resource.name, [{ family: 'smith' }]);
      assert.equal(await repo.read('Patient', 'p2'), null);
      assert.equal(await repo.read('Practitioner', 'p1'), null);
      assert.equal(await repo.count('Patient'), 1);
      assert.equal(await repo.count('Practitioner'), 0);
    });

    test('creating an existing id is a version conflict and changes nothing', async ({ repo }) => {
      await repo.commit({ resources: [write('p1', 0, 'smith')] });
      await assert.rejects(
        repo.commit({ resources: [write('p1', 0, 'jones')], audit: [audit('create')] }),
        isConflict('Patient', 'p1', 0, 1),
      );
      assert.equal((await repo.read('Patient', 'p1'))!.resource.name[0].family, 'smith');
      assert.equal((await repo.history('Patient', 'p1')).length, 1);
      assert.deepEqual(
        await repo.search({ type: 'Patient', criteria: [eq('family', 'jones')], limit: 10 }),
        [],
      );
      assert.deepEqual(await repo.audit.readAudit(0, 100), []);
    });

    test('update with the right version makes version 2 and keeps history', async ({ repo }) => {
      await repo.commit({ resources: [write('p1', 0, 'smith')] });
      const [v2] = await repo.commit({ resources: [write('p1', 1, 'jones')] });
      assert.equal(v2.version, 2);
      assert.equal(v2.resource.meta.versionId, '2');
      assert.equal((await repo.read('Patient', 'p1'))!.resource.name[0].family, 'jones');
      const history = await repo.history('Patient', 'p1');
      assert.deepEqual(
        history.map((h) => h.version),
        [2, 1],
      );
      assert.deepEqual(
        history.map((h) => h.resource.meta.versionId),
        ['2', '1'],
      );
      const v1 = await repo.readVersion('Patient', 'p1', 1);
      assert.equal(v1!.resource.name[0].family, 'smith');
      assert.equal(v1!.resource.meta.versionId, '1');
      assert.equal(await repo.readVersion('Patient', 'p1', 3), null);
      assert.equal(await repo.count('Patient'), 1);
    });

    test('a stale or missing version is refused with no partial write', async ({ repo }) => {
      await repo.commit({ resources: [write('p1', 0, 'smith')] });
      await repo.commit({ resources: [write('p1', 1, 'jones')] });
      await assert.rejects(
        repo.commit({ resources: [write('p1', 1, 'brown')] }),
        isConflict('Patient', 'p1', 1, 2),
      );
      await assert.rejects(
        repo.commit({ resources: [write('nope', 1, 'brown')] }),
        isConflict('Patient', 'nope', 1, null),
      );
      assert.equal((await repo.read('Patient', 'p1'))!.resource.name[0].family, 'jones');
      assert.equal((await repo.history('Patient', 'p1')).length, 2);
      assert.deepEqual(
        await repo.search({ type: 'Patient', criteria: [eq('family', 'brown')], limit: 10 }),
        [],
      );
      assert.deepEqual(
        await repo.search({ type: 'Patient', criteria: [eq('family', 'jones')], limit: 10 }),
        ['p1'],
      );
      assert.equal(await repo.read('Patient', 'nope'), null);
    });

    test('a batch whose second write conflicts leaves the first unwritten and appends no audit', async ({
      repo,
    }) => {
      await repo.commit({ resources: [write('b', 0, 'baker')], audit: [audit('create', 'b')] });
      await repo.commit({ resources: [write('b', 1, 'baker2')] });
      const batch = {
        resources: [write('a', 0, 'adams'), write('b', 1, 'butler')],
        audit: [audit('create', 'a'), audit('update', 'b')],
      };
      await assert.rejects(repo.commit(batch), isConflict('Patient', 'b', 1, 2));
      assert.equal(await repo.read('Patient', 'a'), null);
      assert.equal(await repo.count('Patient'), 1);
      assert.deepEqual(
        await repo.search({ type: 'Patient', criteria: [eq('family', 'adams')], limit: 10 }),
        [],
      );
      assert.equal((await repo.read('Patient', 'b'))!.resource.name[0].family, 'baker2');
      assert.equal((await repo.audit.readAudit(0, 100)).length, 1);
      // The chain carries on from the last committed entry, not from the rolled-back ones.
      await repo.commit({ audit: [audit('read', 'b')] });
      const { entries, result } = await verifyChain(repo);
      assert.deepEqual(
        entries.map((e) => e.seq),
        [1, 2],
      );
      assert.equal(entries[1].record.action, 'read');
      assert.ok(result.ok, JSON.stringify(result.brokenAt));
    });

    test('an update replaces the index rows', async ({ repo }) => {
      await repo.commit({
        resources: [
          write('p1', 0, 'smith', [{ param: 'given', value: 'john' }]),
          write('p2', 0, 'smith'),
        ],
      });
      await repo.commit({
        resources: [write('p1', 1, 'jones', [{ param: 'given', value: 'jack' }])],
      });
      const find = (c: SearchCriterion) =>
        repo.search({ type: 'Patient', criteria: [c], limit: 10 });
      assert.deepEqual(await find(eq('family', 'smith')), ['p2']);
      assert.deepEqual(await find(eq('given', 'john')), []);
      assert.deepEqual(await find(eq('family', 'jones')), ['p1']);
      assert.deepEqual(await find(eq('given', 'jack')), ['p1']);
    });

    test('search: eq, prefix, ranges, OR, AND, limit, byte-wise order', async ({ repo }) => {
      const people: [string, string, string, string][] = [
        ['p1', 'smith', 'john', '1980-01-01'],
        ['p2', 'smythe', 'jane', '1990-05-05'],
        ['p3', 'snow', 'john', '2000-12-31'],
        ['p4', 'Smith', 'anna', '1985-06-15'],
        ['p5', 'sm', 'bob', '1970-01-01'],
      ];
      await repo.commit({
        resources: people.map(([id, family, given, birthdate]) =>
          write(id, 0, family, [
            { param: 'given', value: given },
            { param: 'birthdate', value: birthdate },
          ]),
        ),
      });
      // Same values on another type and another param must not leak into Patient/family searches.
      await repo.commit({
        resources: [
          write('x1', 0, 'smith', [], 'Practitioner'),
          write('p6', 0, 'zed', [{ param: 'given', value: 'smith' }]),
        ],
      });
      const find = (criteria: SearchCriterion[], limit = 100) =>
        repo.search({ type: 'Patient', criteria, limit });
      const one = (
        param: string,
        op: 'eq' | 'prefix' | 'ge' | 'le' | 'gt' | 'lt',
        value: string,
      ): SearchCriterion => ({ any: [{ param, op, value }] });
      assert.deepEqual(await find([eq('family', 'smith')]), ['p1']);
      assert.deepEqual(
        await find([one('family', 'prefix', 'sm')]),
        ['p1', 'p2', 'p5'],
        'prefix is case-sensitive and does not reach sn…',
      );
      assert.deepEqual(await find([one('family', 'prefix', 'sn')]), ['p3']);
      assert.deepEqual(await find([one('family', 'prefix', 'smi')]), ['p1']);
      assert.deepEqual(await find([one('family', 'prefix', 'S')]), ['p4']);
      assert.deepEqual(await find([one('birthdate', 'ge', '1985-06-15')]), ['p2', 'p3', 'p4']);
      assert.deepEqual(await find([one('birthdate', 'gt', '1985-06-15')]), ['p2', 'p3']);
      assert.deepEqual(await find([one('birthdate', 'le', '1985-06-15')]), ['p1', 'p4', 'p5']);
      assert.deepEqual(await find([one('birthdate', 'lt', '1985-06-15')]), ['p1', 'p5']);
      assert.deepEqual(
        await find([one('birthdate', 'ge', '1980-01-01'), one('birthdate', 'le', '1990-05-05')]),
        ['p1', 'p2', 'p4'],
      );
      assert.deepEqual(
        await find([
          {
            any: [
              { param: 'family', op: 'eq', value: 'snow' },
              { param: 'family', op: 'eq', value: 'smythe' },
            ],
          },
        ]),
        ['p2', 'p3'],
      );
      assert.deepEqual(
        await find([
          {
            any: [
              { param: 'family', op: 'prefix', value: 'sn' },
              { param: 'given', op: 'eq', value: 'anna' },
            ],
          },
        ]),
        ['p3', 'p4'],
      );
      assert.deepEqual(await find([one('family', 'prefix', 'sm'), eq('given', 'john')]), ['p1']);
      assert.deepEqual(await find([eq('family', 'snow'), eq('given', 'jane')]), []);
      assert.deepEqual(await find([one('family', 'prefix', '')], 3), ['p1', 'p2', 'p3']);
      assert.deepEqual(await find([one('family', 'prefix', '')], 1), ['p1']);
      assert.deepEqual(await find([eq('family', 'zed')]), ['p6']);
      assert.deepEqual(
        await repo.search({ type: 'Practitioner', criteria: [eq('family', 'smith')], limit: 10 }),
        ['x1'],
      );

      const ids = ['a', 'B', '_x', '10', '9', 'é'];
      await repo.commit({ resources: ids.map((id) => write(id, 0, 'order')) });
      assert.deepEqual(await find([eq('family', 'order')]), ['10', '9', 'B', '_x', 'a', 'é']);
    });

    test('injection-looking and wildcard values are plain values', async ({ repo }) => {
      const evil = "x' OR 1=1 --";
      await repo.commit({
        resources: [write('p1', 0, evil), write('p2', 0, 'abc'), write('p3', 0, 'a%c')],
      });
      const find = (c: SearchCriterion) =>
        repo.search({ type: 'Patient', criteria: [c], limit: 10 });
      assert.deepEqual(await find(eq('family', evil)), ['p1']);
      assert.deepEqual(await find(eq('family', "' OR '1'='1")), []);
      assert.deepEqual(await find({ any: [{ param: 'family', op: 'prefix', value: "x'" }] }), [
        'p1',
      ]);
      assert.deepEqual(await find(eq("family' OR 1=1 --", 'abc')), []);
      assert.deepEqual(await find({ any: [{ param: 'family', op: 'prefix', value: 'a%' }] }), [
        'p3',
      ]);
      assert.deepEqual(await find({ any: [{ param: 'family', op: 'prefix', value: 'a_' }] }), []);
      assert.deepEqual(
        await repo.search({
          type: "Patient' OR 1=1 --",
          criteria: [eq('family', 'abc')],
          limit: 10,
        }),
        [],
      );
      assert.equal((await repo.read('Patient', 'p1'))!.resource.name[0].family, evil);
      assert.equal(await repo.read('Patient', "p1' OR 1=1 --"), null);
      assert.equal(await repo.count('Patient'), 3);
    });

    test('readMany returns the existing ids', async ({ repo }) => {
      await repo.commit({
        resources: [write('a', 0, 'x'), write('b', 0, 'y'), write('c', 0, 'z')],
      });
      await repo.commit({ resources: [write('b', 1, 'y2')] });
      const got = await repo.readMany('Patient', ['c', 'missing', 'b']);
      assert.deepEqual(got.map((r) => [r.id, r.version, r.resource.name[0].family]).sort(), [
        ['b', 2, 'y2'],
        ['c', 1, 'z'],
      ]);
      assert.deepEqual(await repo.readMany('Patient', []), []);
      assert.deepEqual(await repo.readMany('Practitioner', ['a']), []);
    });

    test('searchResources returns the current versions of what search finds, in id order, up to the limit', async ({
      repo,
    }) => {
      await repo.commit({
        resources: [
          write('c', 0, 'smith'),
          write('a', 0, 'smith'),
          write('b', 0, 'smithson'),
          write('d', 0, 'jones'),
        ],
      });
      await repo.commit({
        resources: [write('a', 1, 'smith', [{ param: 'given', value: 'ann' }])],
      });
      await repo.commit({ resources: [write('x', 0, 'smith', [], 'Practitioner')] });
      const smiths = {
        type: 'Patient',
        criteria: [{ any: [{ param: 'family', op: 'prefix' as const, value: 'smith' }] }],
        limit: 10,
      };
      const found = await repo.searchResources(smiths);
      assert.deepEqual(
        found.map((r) => [r.id, r.version]),
        [
          ['a', 2],
          ['b', 1],
          ['c', 1],
        ],
      );
      assert.deepEqual(
        found.map((r) => r.id),
        await repo.search(smiths),
      );
      assert.deepEqual(found[0].resource.meta.versionId, '2');
      assert.deepEqual(
        (await repo.searchResources({ ...smiths, limit: 2 })).map((r) => r.id),
        ['a', 'b'],
      );
      assert.deepEqual(
        await repo.searchResources({
          ...smiths,
          criteria: [...smiths.criteria, { any: [{ param: 'family', op: 'eq', value: 'jones' }] }],
        }),
        [],
      );
    });

    test('audit entries get consecutive seq and a verifiable chain', async ({ repo }) => {
      const first = [
        audit('create', '9000000009', {
          correlationId: 'corr-1',
          detail: { fields: ['name'], n: 1 },
        }),
        audit('read', null),
        audit('search', null),
      ];
      await repo.commit({ resources: [write('p1', 0, 'smith')], audit: first });
      await repo.commit({ audit: [audit('read', '9000000009'), audit('read', '9000000009')] });
      const { entries, result } = await verifyChain(repo);
      assert.deepEqual(
        entries.map((e) => e.seq),
        [1, 2, 3, 4, 5],
      );
      assert.equal(typeof entries[0].seq, 'number');
      assert.equal(entries[0].prevHash, GENESIS_HASH);
      assert.equal(entries[1].prevHash, entries[0].hash);
      assert.deepEqual(
        entries.slice(0, 3).map((e) => e.record),
        first,
      );
      assert.ok(result.ok, JSON.stringify(result.brokenAt));
      assert.equal(result.checked, 5);
      assert.deepEqual(
        (await repo.audit.readAudit(2, 2)).map((e) => e.seq),
        [3, 4],
      );
      assert.deepEqual(await repo.audit.readAudit(5, 10), []);
    });

    test('an audit record that is not plain JSON still verifies after reading back', async ({
      repo,
    }) => {
      await repo.commit({
        audit: [
          audit('read', null, {
            detail: { at: new Date('2024-01-02T03:04:05Z'), gone: undefined },
          }),
        ],
      });
      const { entries, result } = await verifyChain(repo);
      assert.equal(entries[0].record.detail!.at, '2024-01-02T03:04:05.000Z');
      assert.ok(result.ok, JSON.stringify(result.brokenAt));
    });

    test('a record with non-ASCII text chains over its UTF-8 bytes, as the verifier computes them', async ({
      repo,
    }) => {
      // PostgreSQL computes the chain hash inside the server: it must hash the same bytes as Node does
      await repo.commit({
        audit: [
          audit('read', null, {
            detail: { name: 'Zoë Ó Súilleabháin', note: '患者 🙂', quote: '"\\\n' },
          }),
        ],
      });
      await repo.commit({
        audit: [audit('read', null, { detail: { name: 'Łukasz' } }), audit('read')],
      });
      const { entries, result } = await verifyChain(repo);
      assert.equal(entries.length, 3);
      assert.equal(entries[0].record.detail!.note, '患者 🙂');
      assert.ok(result.ok, JSON.stringify(result.brokenAt));
    });

    test('the database refuses edits and deletions of the audit log', async (ctx) => {
      await ctx.repo.commit({ audit: [audit('read'), audit('read')] });
      await assert.rejects(
        adminSql(ctx, [`UPDATE audit_log SET action = 'x' WHERE seq = 1`]),
        /append-only/,
      );
      await assert.rejects(adminSql(ctx, ['DELETE FROM audit_log WHERE seq = 2']), /append-only/);
      if (ctx.kind === 'postgres')
        await assert.rejects(adminSql(ctx, ['TRUNCATE audit_log']), /append-only/);
      const { entries, result } = await verifyChain(ctx.repo);
      assert.equal(entries.length, 2);
      assert.equal(entries[0].record.action, 'read');
      assert.ok(result.ok, 'expected true at store.test.ts:269');
    });

    test('tampering behind the trigger is detected by the chain verifier', async (ctx) => {
      await ctx.repo.commit({
        audit: [
          audit('read', '9000000009'),
          audit('read', '9000000017'),
          audit('read', '9000000025'),
          audit('read', '9000000033'),
        ],
      });
      assert.ok((await verifyChain(ctx.repo)).result.ok, 'expected true at store.test.ts:274');
      const disable =
        ctx.kind === 'sqlite'
          ? ['DROP TRIGGER audit_log_no_update', 'DROP TRIGGER audit_log_no_delete']
          : ['ALTER TABLE audit_log DISABLE TRIGGER ALL'];
      await adminSql(ctx, [
        ...disable,
        `UPDATE audit_log SET record = replace(record, '9000000017', '9000000099') WHERE seq = 2`,
      ]);
      const modified = await verifyChain(ctx.repo);
      assert.equal(modified.entries[1].record.patient, '9000000099', 'the tampering took effect');
      assert.equal(modified.result.ok, false);
      assert.equal(modified.result.brokenAt!.seq, 2);
      assert.match(modified.result.brokenAt!.reason, /modified/);
      await adminSql(ctx, [
        ...(ctx.kind === 'sqlite' ? [] : disable),
        'DELETE FROM audit_log WHERE seq IN (1, 2)',
      ]);
      const removed = await verifyChain(ctx.repo);
      assert.equal(removed.entries.length, 2);
      assert.equal(removed.result.ok, false);
      assert.equal(removed.result.brokenAt!.seq, 3);
    });

    test('20 concurrent writers with the same expected version: exactly one wins', async ({
      repo,
    }) => {
      await repo.commit({ resources: [write('p1', 0, 'smith')], audit: [audit('create', 'p1')] });
      const attempts = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) =>
          repo.commit({
            resources: [write('p1', 1, `family${i}`)],
            audit: [audit('update', 'p1', { detail: { i } })],
          }),
        ),
      );
      const won = attempts.filter((a) => a.status === 'fulfilled');
      const lost = attempts.filter((a): a is PromiseRejectedResult => a.status === 'rejected');
      assert.equal(won.length, 1);
      for (const l of lost) isConflict('Patient', 'p1', 1, 2)(l.reason);
      const winner = attempts.findIndex((a) => a.status === 'fulfilled');
      const current = await repo.read('Patient', 'p1');
      assert.equal(current!.version, 2);
      assert.equal(current!.resource.name[0].family, `family${winner}`);
      assert.equal((await repo.history('Patient', 'p1')).length, 2);
      assert.deepEqual(
        await repo.search({
          type: 'Patient',
          criteria: [{ any: [{ param: 'family', op: 'prefix', value: 'family' }] }],
          limit: 100,
        }),
        ['p1'],
      );
      const { entries, result } = await verifyChain(repo);
      assert.deepEqual(
        entries.map((e) => e.record.detail?.i),
        [undefined, winner],
      );
      assert.ok(result.ok, 'expected true at store.test.ts:307');
    });

    test('20 concurrent creates of one id: exactly one wins', async ({ repo }) => {
      const attempts = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) =>
          repo.commit({ resources: [write('p1', 0, `family${i}`)] }),
        ),
      );
      assert.equal(attempts.filter((a) => a.status === 'fulfilled').length, 1);
      for (const a of attempts)
        if (a.status === 'rejected') isConflict('Patient', 'p1', 0, 1)(a.reason);
      assert.equal((await repo.history('Patient', 'p1')).length, 1);
    });

    test('concurrent batches that commit together: a refused one leaves nothing, the others keep their writes, audit and messages', async ({
      repo,
    }) => {
      await repo.commit({ resources: [write('p1', 0, 'smith')] });
      const message = (id: string) => ({ id, topic: 'test.event', key: id, body: { id } });
      // submitted in one turn of the event loop, so the PostgreSQL store sends them as one group
      const attempts = await Promise.allSettled([
        repo.commit({
          resources: [write('p2', 0, 'jones')],
          audit: [audit('create', 'p2')],
          messages: [message('m2')],
        }),
        repo.commit({
          resources: [write('p3', 0, 'brown'), write('p1', 7, 'stale')],
          audit: [audit('create', 'p3')],
          messages: [message('m3')],
        }),
        repo.commit({
          resources: [write('p1', 1, 'smythe')],
          audit: [audit('update', 'p1')],
          messages: [message('m1')],
        }),
        repo.commit({
          audit: [audit('read', 'p1')],
          request: {
            requestId: 'r1',
            userId: 'u',
            method: 'POST',
            path: '/x',
            digest: 'd',
            status: 201,
            resourceType: 'Patient',
            resourceId: 'p2',
            version: 1,
          },
        }),
        repo.commit({
          audit: [audit('read', 'p2')],
          request: {
            requestId: 'r1',
            userId: 'u',
            method: 'POST',
            path: '/x',
            digest: 'd',
            status: 201,
            resourceType: 'Patient',
            resourceId: 'p2',
            version: 1,
          },
        }),
      ]);
      assert.deepEqual(
        attempts.map((a) => a.status),
        ['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'rejected'],
      );
      isConflict('Patient', 'p1', 7, 1)((attempts[1] as PromiseRejectedResult).reason);
      assert.ok((attempts[4] as PromiseRejectedResult).reason instanceof DuplicateRequestError);
      assert.equal(await repo.read('Patient', 'p3'), null);
      assert.deepEqual(
        await repo.search({
          type: 'Patient',
          criteria: [{ any: [{ param: 'family', op: 'eq', value: 'brown' }] }],
          limit: 10,
        }),
        [],
      );
      assert.equal((await repo.read('Patient', 'p1'))!.resource.name[0].family, 'smythe');
      assert.equal((await repo.read('Patient', 'p2'))!.version, 1);
      const { entries, result } = await verifyChain(repo);
      assert.deepEqual(
        entries.map((e) => `${e.record.action} ${e.record.patient}`),
        ['create p2', 'update p1', 'read p1'],
      );
      assert.ok(result.ok, JSON.stringify(result.brokenAt));
      const outbox = await repo.messaging.readOutbox(0, 10);
      assert.deepEqual(
        outbox.map((m) => m.id),
        ['m2', 'm1'],
      );
      assert.deepEqual(
        outbox.map((m) => m.seq),
        [outbox[0].seq, outbox[0].seq + 1],
      );
    });
    test('a batch whose value the database cannot store fails alone, not the batches committed with it', async ({
      repo,
    }) => {
      // PostgreSQL text cannot hold U+0000 (SQLite can): there, the whole group statement fails and
      // each batch is run again on its own
      const attempts = await Promise.allSettled([
        repo.commit({ resources: [write('p0', 0, 'first')], audit: [audit('create', 'p0')] }),
        repo.commit({ resources: [write('p1', 0, 'adams')], audit: [audit('create', 'p1')] }),
        repo.commit({
          resources: [write('p2', 0, 'nul\u0000name')],
          audit: [audit('create', 'p2')],
        }),
        repo.commit({ resources: [write('p3', 0, 'clark')], audit: [audit('create', 'p3')] }),
      ]);
      const nulRefused = repo.kind === 'postgres';
      assert.deepEqual(
        attempts.map((a) => a.status),
        ['fulfilled', 'fulfilled', nulRefused ? 'rejected' : 'fulfilled', 'fulfilled'],
      );
      assert.equal((await repo.read('Patient', 'p3'))!.version, 1);
      const { entries, result } = await verifyChain(repo);
      assert.deepEqual(
        entries.map((e) => e.record.patient),
        nulRefused ? ['p0', 'p1', 'p3'] : ['p0', 'p1', 'p2', 'p3'],
      );
      assert.ok(result.ok, JSON.stringify(result.brokenAt));
    });

    test('concurrent commits from several repositories keep one linear audit chain', async (ctx) => {
      const repos = [ctx.repo, await ctx.open(), await ctx.open()];
      await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          repos[i % repos.length].commit({
            resources: [write(`p${i}`, 0, 'smith')],
            audit: [audit('create', `p${i}`), audit('read', `p${i}`)],
          }),
        ),
      );
      const { entries, result } = await verifyChain(ctx.repo);
      assert.deepEqual(
        entries.map((e) => e.seq),
        Array.from({ length: 60 }, (_, i) => i + 1),
      );
      assert.ok(result.ok, JSON.stringify(result.brokenAt));
      assert.equal(await ctx.repo.count('Patient'), 30);
      // A repository that has been idle sees the others' appends and links to the true head.
      await repos[1].commit({ audit: [audit('read')] });
      await repos[0].commit({ audit: [audit('read')] });
      assert.ok((await verifyChain(repos[2])).result.ok, 'expected true at store.test.ts:328');
      assert.equal((await repos[2].audit.readAudit(0, 1000)).length, 62);
    });

    test('batches touching the same rows in opposite orders fail only with version conflicts', async (ctx) => {
      const other = await ctx.open();
      await ctx.repo.commit({ resources: [write('a', 0, 'a'), write('b', 0, 'b')] });
      // On PostgreSQL each round usually deadlocks (resolved after deadlock_timeout), so keep it short.
      const rounds = 4;
      for (let round = 0; round < rounds; round++) {
        const v = (await ctx.repo.read('Patient', 'a'))!.version;
        const results = await Promise.allSettled([
          ctx.repo.commit({
            resources: [write('a', v, 'a'), write('b', v, 'b')],
            audit: [audit('update')],
          }),
          other.commit({
            resources: [write('b', v, 'b'), write('a', v, 'a')],
            audit: [audit('update')],
          }),
        ]);
        assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
        for (const r of results)
          if (r.status === 'rejected')
            assert.ok(r.reason instanceof VersionConflictError, String(r.reason));
      }
      assert.equal((await ctx.repo.read('Patient', 'b'))!.version, rounds + 1);
      assert.ok((await verifyChain(ctx.repo)).result.ok, 'expected true at store.test.ts:347');
    });

    test('migrate() again is harmless, also when run concurrently', async (ctx) => {
      await ctx.repo.commit({
        resources: [write('p1', 0, 'smith')],
        audit: [audit('create', 'p1')],
      });
      await ctx.repo.migrate();
      await ctx.repo.migrate();
      assert.equal((await ctx.repo.read('Patient', 'p1'))!.version, 1);
      assert.equal((await ctx.repo.audit.readAudit(0, 10)).length, 1);
      await ctx.repo.commit({
        resources: [write('p1', 1, 'jones')],
        audit: [audit('update', 'p1')],
      });
      assert.ok((await verifyChain(ctx.repo)).result.ok, 'expected true at store.test.ts:357');

      const fresh = await isolatedStoreConfig(ctx.kind);
      try {
        const repos = await Promise.all([
          openRepository(fresh.config),
          openRepository(fresh.config),
          openRepository(fresh.config),
        ]);
        try {
          await repos[0].commit({
            resources: [write('p1', 0, 'smith')],
            audit: [audit('create', 'p1')],
          });
          assert.equal((await repos[2].read('Patient', 'p1'))!.version, 1);
        } finally {
          for (const r of repos) await r.close();
        }
      } finally {
        await fresh.cleanup();
      }
    });

    test('reopening keeps the data and the audit chain continues from the old head', async (ctx) => {
      await ctx.repo.commit({
        resources: [write('p1', 0, 'smith')],
        audit: [audit('create', 'p1'), audit('read', 'p1')],
      });
      const before = await ctx.repo.audit.readAudit(0, 10);
      const repo = await ctx.reopen();
      assert.equal((await repo.read('Patient', 'p1'))!.resource.name[0].family, 'smith');
      assert.deepEqual(
        await repo.search({ type: 'Patient', criteria: [eq('family', 'smith')], limit: 10 }),
        ['p1'],
      );
      await repo.commit({ resources: [write('p1', 1, 'jones')], audit: [audit('update', 'p1')] });
      const { entries, result } = await verifyChain(repo);
      assert.deepEqual(entries.slice(0, 2), before);
      assert.equal(entries[2].seq, 3);
      assert.equal(entries[2].prevHash, before[1].hash);
      assert.ok(result.ok, JSON.stringify(result.brokenAt));
      assert.equal((await repo.read('Patient', 'p1'))!.version, 2);
    });

    if (kind === 'postgres') {
      test('a duplicate version row surfaces as a version conflict, not a raw database error', async (ctx) => {
        await ctx.repo.commit({ resources: [write('p1', 0, 'smith')] });
        await adminSql(ctx, [
          `INSERT INTO resource_versions (rtype, rid, version, updated, body) VALUES ('Patient', 'p1', 2, 'x', '{}')`,
        ]);
        await assert.rejects(
          ctx.repo.commit({ resources: [write('p1', 1, 'jones')], audit: [audit('update')] }),
          isConflict('Patient', 'p1', 1, 1),
        );
        assert.equal((await ctx.repo.read('Patient', 'p1'))!.resource.name[0].family, 'smith');
        assert.deepEqual(await ctx.repo.audit.readAudit(0, 10), []);
      });

      test('rejects schema names that are not plain identifiers', async () => {
        const { PostgresRepository } = await import('../src/store/postgres/postgres-repository.js');
        assert.throws(
          () => new PostgresRepository('postgres://localhost/x', 'public; DROP TABLE x'),
          /schema name/,
        );
        assert.throws(
          () => new PostgresRepository('postgres://localhost/x', 'Public'),
          /schema name/,
        );
      });
    }
  });
}
