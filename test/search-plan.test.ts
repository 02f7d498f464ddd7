/**
 * The store's search planner (src/store/sql.ts): a search with several criteria reads its rarest
 * criterion and probes the others per candidate. Whatever drives, the answer must be exactly the
 * set the criteria define: checked against a brute-force evaluation over every seeded patient's
 * index rows, for equalities, prefixes and ranges, alone and in any-of lists, on both stores.
 * The planner must also pick the criterion with the fewest rows, and the planned query must drive
 * from it (SQLite's query plan reads only that criterion's index range).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { seedPatients } from '../src/seed/seed-patients.js';
import { createPatientGenerator } from '../src/seed/patient-generator.js';
import { indexPatient, PATIENT } from '../src/services/pds/index.js';
import { buildSearchSql, planSearch } from '../src/store/sql.js';
import { openRepository } from '../src/store/open.js';
import type { Repository } from '../src/store/repository.js';
import type { IndexCondition, SearchCriterion, SearchQuery } from '../src/store/resource-store.js';
import { isolatedStoreConfig, storesUnderTest } from './helpers/stores.js';

const PATIENTS = 1_500;
const SEED = 11;
const generator = createPatientGenerator(SEED);
const rows = Array.from({ length: PATIENTS }, (_, i) => {
  const patient = generator.generate(i).patient;
  return { id: patient.id!, index: indexPatient(patient) };
});

/** Does one condition hold for an index row list? Mirrors the SQL semantics (byte order). */
function holds(c: IndexCondition, index: { param: string; value: string }[]): boolean {
  return index.some((e) => {
    if (e.param !== c.param) return false;
    switch (c.op) {
      case 'eq':
        return e.value === c.value;
      case 'prefix':
        return e.value.startsWith(c.value);
      case 'ge':
        return e.value >= c.value;
      case 'le':
        return e.value <= c.value;
      case 'gt':
        return e.value > c.value;
      case 'lt':
        return e.value < c.value;
    }
  });
}

function expected(criteria: SearchCriterion[], limit: number): string[] {
  return rows
    .filter((r) => criteria.every((cr) => cr.any.some((c) => holds(c, r.index))))
    .map((r) => r.id)
    .sort()
    .slice(0, limit);
}

/** A small deterministic PRNG, so a failure names a query that can be run again. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Criteria drawn from real patients' index rows: equalities, prefixes, ranges, any-of lists. */
function randomCriteria(random: () => number): SearchCriterion[] {
  const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)];
  const subject = pick(rows).index;
  const condition = (): IndexCondition => {
    const e = pick(subject);
    const kind = random();
    if (kind < 0.55) return { param: e.param, op: 'eq', value: e.value };
    if (kind < 0.7)
      return {
        param: e.param,
        op: 'prefix',
        value: e.value.slice(0, 1 + Math.floor(random() * 2)),
      };
    return { param: e.param, op: pick(['ge', 'le', 'gt', 'lt'] as const), value: e.value };
  };
  const count = 2 + Math.floor(random() * 3);
  return Array.from({ length: count }, () => ({
    any: Array.from({ length: random() < 0.25 ? 2 : 1 }, condition),
  }));
}

for (const kind of await storesUnderTest()) {
  describe(`search planner (${kind})`, () => {
    let repo: Repository;
    let cleanup: () => Promise<void>;
    let dataDir: string;
    before(async () => {
      const isolated = await isolatedStoreConfig(kind);
      cleanup = isolated.cleanup;
      dataDir = isolated.config.dataDir;
      repo = await openRepository(isolated.config);
      await seedPatients(repo, { patients: PATIENTS, seed: SEED });
    });
    after(async () => {
      await repo.close();
      await cleanup();
    });

    it('answers exactly the ids the criteria define, whichever criterion drives', async () => {
      const random = prng(20261207);
      let nonEmpty = 0;
      for (let q = 0; q < 150; q++) {
        const criteria = randomCriteria(random);
        const limit = random() < 0.2 ? 3 : 500;
        const want = expected(criteria, limit);
        const got = await repo.search({ type: PATIENT, criteria, limit });
        assert.deepEqual(got, want, `query ${q}: ${JSON.stringify(criteria)}`);
        const docs = await repo.searchResources({ type: PATIENT, criteria, limit });
        assert.deepEqual(
          docs.map((d) => d.id),
          want,
          `searchResources, query ${q}`,
        );
        if (want.length) nonEmpty++;
      }
      assert.ok(nonEmpty > 50, `most drawn queries find someone (${nonEmpty} of 150)`);
    });

    it('drives from the criterion with the fewest index rows', async () => {
      const subject = rows[7];
      const value = (param: string) => subject.index.find((e) => e.param === param)!.value;
      const criteria: SearchCriterion[] = [
        { any: [{ param: 'gender', op: 'eq', value: value('gender') }] },
        { any: [{ param: 'family', op: 'eq', value: value('family') }] },
        { any: [{ param: 'birthdate', op: 'eq', value: value('birthdate') }] },
      ];
      const query: SearchQuery = { type: PATIENT, criteria, limit: 10 };
      if (kind === 'sqlite') {
        const db = new Database(join(dataDir, 'openspine.db'), { readonly: true });
        try {
          const counted: number[][] = [];
          const plan = await planSearch(
            query,
            () => '?',
            'index-rows',
            async (sql, params) => {
              counted.push(Object.values(db.prepare(sql).get(...params) as Record<string, number>));
              return counted[counted.length - 1];
            },
          );
          const truly = criteria.map((c) => rows.filter((r) => holds(c.any[0], r.index)).length);
          assert.deepEqual(counted, [truly.map((n) => Math.min(n, 1_000))], 'bounded counts');
          assert.ok(truly[2] < truly[1] && truly[1] < truly[0], `rarest last: ${truly}`);
          assert.equal(plan?.driver, 2, 'the birth date drives');
          const { sql, params } = buildSearchSql(query, () => '?', plan);
          const steps = (
            db.prepare('EXPLAIN QUERY PLAN ' + sql).all(...params) as { detail: string }[]
          ).map((s) => s.detail);
          const shown = steps.join('\n');
          // the driver is one range of the primary key; each other criterion a fully bound probe
          const range =
            /SEARCH search_index USING PRIMARY KEY \(rtype=\? AND param=\? AND value=\?\)/;
          const probe =
            /EXISTS USING PRIMARY KEY \(rtype=\? AND param=\? AND value=\? AND rid=\?\)/;
          assert.equal(steps.filter((s) => range.test(s)).length, 1, shown);
          assert.equal(steps.filter((s) => probe.test(s)).length, 2, shown);
          assert.ok(!steps.some((s) => /SCAN (search_index|resources)/.test(s)), shown);
        } finally {
          db.close();
        }
      }
      assert.deepEqual(await repo.search(query), expected(criteria, 10));
    });

    it('drives from a criterion the caller names, without counting, and answers the same', async () => {
      const subject = rows[11];
      const value = (param: string) => subject.index.find((e) => e.param === param)!.value;
      const criteria: SearchCriterion[] = [
        { any: [{ param: 'birthdate', op: 'eq', value: value('birthdate') }] },
        { any: [{ param: 'gender', op: 'eq', value: value('gender') }], drive: true },
      ];
      const query: SearchQuery = { type: PATIENT, criteria, limit: 500 };
      let counts = 0;
      const plan = await planSearch(
        query,
        () => '?',
        'index-rows',
        async () => {
          counts++;
          return [0, 0];
        },
      );
      assert.deepEqual(plan, { driver: 1, probe: 'index-rows' });
      assert.equal(counts, 0);
      // the named driver is the commoner criterion here: the answer must not change
      assert.deepEqual(await repo.search(query), expected(criteria, 500));
      assert.ok(expected(criteria, 500).length > 0);
    });
  });
}
