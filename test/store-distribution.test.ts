import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { openRepository } from '../src/store/open.js';
import { citusDistributionSql, TABLE_PLACEMENT } from '../src/store/postgres/distribution.js';
import { isolatedStoreConfig, storesUnderTest, TEST_DATABASE_URL } from './helpers/stores.js';

const kinds = await storesUnderTest();

test(
  'every PostgreSQL table has a placement, and distributed tables keep their distribution column in every unique key',
  { skip: !kinds.includes('postgres') && 'PostgreSQL not under test' },
  async () => {
    const { config, cleanup } = await isolatedStoreConfig('postgres');
    const repo = await openRepository(config);
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await client.connect();
    try {
      const tables = (
        await client.query<{ table_name: string }>(
          `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name`,
          [config.databaseSchema],
        )
      ).rows.map((r) => r.table_name);
      assert.ok(
        tables.includes('resources') && tables.length > 5,
        `migrated schema has the store tables, got ${tables.join(', ')}`,
      );
      const unplaced = tables.filter((t) => !Object.hasOwn(TABLE_PLACEMENT, t));
      assert.deepEqual(
        unplaced,
        [],
        'add each new table to TABLE_PLACEMENT in src/store/postgres/distribution.ts',
      );
      const stale = Object.keys(TABLE_PLACEMENT).filter((t) => !tables.includes(t));
      assert.deepEqual(stale, [], 'TABLE_PLACEMENT names tables the schema does not have');

      for (const [table, placement] of Object.entries(TABLE_PLACEMENT)) {
        if (placement.kind !== 'distributed') continue;
        // every unique index (the primary key included) must contain the distribution column
        const uniques = (
          await client.query<{ name: string; columns: string[] }>(
            `SELECT i.relname AS name, array_agg(a.attname::text) AS columns
           FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
           JOIN pg_namespace n ON n.oid = t.relnamespace
           JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY (x.indkey)
          WHERE n.nspname = $1 AND t.relname = $2 AND x.indisunique GROUP BY i.relname`,
            [config.databaseSchema, table],
          )
        ).rows;
        assert.ok(uniques.length > 0, `${table} has a primary key`);
        for (const u of uniques)
          assert.ok(
            u.columns.includes(placement.column),
            `${table}: unique index ${u.name} (${u.columns.join(', ')}) lacks distribution column ${placement.column}`,
          );
        // Citus cannot distribute a table that uses a sequence-backed default across shards consistently
        const serials = (
          await client.query(
            `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 AND column_default LIKE 'nextval%'`,
            [config.databaseSchema, table],
          )
        ).rows;
        assert.deepEqual(serials, [], `${table} has no sequence-backed columns`);
      }
      const fks = (
        await client.query(
          `SELECT conrelid::regclass::text AS t FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = $1 AND contype = 'f'`,
          [config.databaseSchema],
        )
      ).rows;
      assert.deepEqual(fks, [], 'no foreign keys between tables that may sit on different shards');
      const sql = citusDistributionSql();
      assert.equal(sql.length, tables.length, 'one statement per table');
      assert.ok(
        sql.includes("SELECT create_distributed_table('resources', 'rid');"),
        'resources is distributed on rid (the NHS Number for Patient)',
      );
    } finally {
      await client.end();
      await repo.close();
      await cleanup();
    }
  },
);

test('docs/scale-out.md carries the distribution statements the code generates', async () => {
  const { readFileSync } = await import('node:fs');
  const doc = readFileSync(new URL('../docs/scale-out.md', import.meta.url), 'utf8');
  const section = doc.slice(
    doc.indexOf('<!-- citus-sql:start -->'),
    doc.indexOf('<!-- citus-sql:end -->'),
  );
  assert.ok(
    section.includes('```sql\n' + citusDistributionSql().join('\n') + '\n```'),
    'regenerate the citus-sql section of docs/scale-out.md from citusDistributionSql()',
  );
});
