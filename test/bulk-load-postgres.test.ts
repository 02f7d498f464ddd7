/**
 * The PostgreSQL bulk loader (COPY) writes exactly what commit() writes for new resources: the same
 * documents, resource and index rows, audit entries on an intact chain; the rows read, search and
 * update like committed ones; a batch with a resource already there is refused whole; and values
 * COPY's text format must escape (backslashes, tabs, newlines, \N, quotes, non-ASCII) survive exactly.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { ChainVerifier } from '../src/audit/chain.js';
import { createPatientGenerator } from '../src/seed/patient-generator.js';
import { buildSeedRows } from '../src/seed/seed-rows.js';
import { patientWrites } from '../src/seed/seed-patients.js';
import { indexPatient, PATIENT } from '../src/services/pds/index.js';
import { openBulkLoader, type BulkLoader } from '../src/store/bulk.js';
import { bulkRowsOf, INDEX_SEPARATOR, type BulkRows } from '../src/store/bulk-rows.js';
import { VersionConflictError } from '../src/store/errors.js';
import { bulkTargetOf, openRepository } from '../src/store/open.js';
import { PostgresBulkLoader } from '../src/store/postgres/bulk-load.js';
import type { Repository } from '../src/store/repository.js';
import type { ResourceWrite } from '../src/store/resource-store.js';
import {
  bulkLoadAudit,
  isolatedStoreConfig,
  storesUnderTest,
  TEST_DATABASE_URL,
} from './helpers/stores.js';

const SEED = 9;
const PATIENTS = 300;
const onPostgres = (await storesUnderTest()).includes('postgres');

interface Store {
  repo: Repository;
  loader: BulkLoader;
  schema: string;
  cleanup: () => Promise<void>;
}
const stores: Store[] = [];

async function store(): Promise<Store> {
  const { config, cleanup } = await isolatedStoreConfig('postgres');
  const repo = await openRepository(config);
  const loader = openBulkLoader(bulkTargetOf(config))!;
  assert.ok(loader instanceof PostgresBulkLoader, 'a PostgreSQL target gets the COPY loader');
  const s = { repo, loader, schema: config.databaseSchema, cleanup };
  stores.push(s);
  return s;
}

let sql: pg.Client;
before(async () => {
  if (!onPostgres) return;
  sql = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await sql.connect();
});
after(async () => {
  for (const s of stores) {
    await s.loader.close();
    await s.repo.close();
    await s.cleanup();
  }
  await sql?.end();
});

const audit = bulkLoadAudit;

/** Every stored row a read or a search sees, with each commit time checked against its row and masked. */
async function contents(schema: string) {
  const resources = await sql.query(
    `SELECT rtype, rid, version FROM ${schema}.resources ORDER BY rtype, rid`,
  );
  const versions = await sql.query<{ rid: string; updated: string; body: string; current: string }>(
    `SELECT v.rtype, v.rid, v.version, v.updated, v.body, r.updated AS current
     FROM ${schema}.resource_versions v JOIN ${schema}.resources r USING (rtype, rid)
     ORDER BY v.rtype, v.rid, v.version`,
  );
  const bodies = versions.rows.map((v) => {
    const lastUpdated = JSON.parse(v.body).meta.lastUpdated;
    assert.equal(lastUpdated, v.updated, `meta.lastUpdated of ${v.rid} is the version's time`);
    assert.equal(v.current, v.updated, `resources.updated of ${v.rid} is the version's time`);
    return v.body.replace(`"lastUpdated":"${lastUpdated}"`, '"lastUpdated":"-"');
  });
  const index = await sql.query(
    `SELECT rtype, param, value, rid FROM ${schema}.search_index ORDER BY rtype, param, value, rid`,
  );
  return { resources: resources.rows, bodies, index: index.rows };
}

async function verifyChain(repo: Repository): Promise<number> {
  const verifier = new ChainVerifier();
  for (const entry of await repo.audit.readAudit(0, 10_000)) verifier.push(entry);
  const result = verifier.finish();
  assert.ok(result.ok, `audit chain intact: ${JSON.stringify(result.brokenAt)}`);
  const head = await repo.audit.auditHead();
  assert.deepEqual([head.seq, head.hash], [result.checked, result.headHash], 'head is the last');
  return result.checked;
}

/** The generated patients [from, to) as the writes seedPatients() commits through the repository. */
function patientWritesOf(from: number, to: number): ResourceWrite[] {
  const generator = createPatientGenerator(SEED);
  const writes: ResourceWrite[] = [];
  for (let i = from; i < to; i++) writes.push(...patientWrites(generator.generate(i)));
  return writes;
}

/** The rows with their search_index rows as groups (the seeder's form) instead of JSON, in the given order. */
function asGroups(rows: BulkRows, order: (a: string, b: string) => number): BulkRows {
  const groups = new Map<string, string[]>();
  for (const [type, param, value, id] of JSON.parse(rows.indexJson!) as string[][]) {
    const key = type + INDEX_SEPARATOR + param;
    groups.set(key, [...(groups.get(key) ?? []), value + INDEX_SEPARATOR + id]);
  }
  const indexGroups = [...groups].map(([key, members]) => {
    const [type, param] = key.split(INDEX_SEPARATOR);
    return { type, param, rows: members.sort(order).join(INDEX_SEPARATOR) };
  });
  return { ...rows, indexJson: undefined, indexGroups };
}

describe(
  'PostgreSQL bulk loading through COPY',
  { skip: !onPostgres && 'needs PostgreSQL' },
  () => {
    it('stores what commit() stores; the rows read, search, verify and update like committed ones', async () => {
      const reference = await store();
      const bulk = await store();
      const generator = createPatientGenerator(SEED);
      await reference.repo.commit({ resources: patientWritesOf(0, 150), audit: [audit('a')] });
      await reference.repo.commit({
        resources: patientWritesOf(150, PATIENTS),
        audit: [audit('b')],
      });
      await bulk.loader.load(buildSeedRows(generator, 0, 150), [audit('a')]);
      await bulk.loader.commitNew(patientWritesOf(150, PATIENTS), [audit('b')]); // the indexJson form
      const expected = await contents(reference.schema);
      assert.ok(expected.index.length > PATIENTS * 8, `indexed: ${expected.index.length} rows`);
      assert.deepEqual(await contents(bulk.schema), expected);
      assert.equal(await verifyChain(bulk.repo), 2, 'one audit entry per batch, chained');

      const ids = [0, 1, 149, 150, 299].map((i) => generator.generate(i).patient.id!);
      assert.deepEqual(await bulk.loader.existing(PATIENT, [...ids, '0000000000']), new Set(ids));
      const id = ids[2];
      const read = await bulk.repo.read(PATIENT, id);
      assert.equal(read?.version, 1);
      assert.deepEqual(
        { ...read!.resource, meta: undefined },
        { ...(await reference.repo.read(PATIENT, id))!.resource, meta: undefined },
      );
      const family = indexPatient(read!.resource).find((e) => e.param === 'family')!.value;
      const byFamily = {
        type: PATIENT,
        criteria: [{ any: [{ param: 'family', op: 'eq' as const, value: family }] }],
        limit: 1000,
      };
      const found = await bulk.repo.search(byFamily);
      assert.ok(found.includes(id), `a search on ${family} finds ${id}`);
      assert.deepEqual(found, await reference.repo.search(byFamily));

      // a normal update of a loaded resource, as of a committed one
      const gender: 'male' | 'female' = read!.resource.gender === 'male' ? 'female' : 'male';
      const changed = { ...read!.resource, gender };
      const [updated] = await bulk.repo.commit({
        resources: [
          {
            type: PATIENT,
            id,
            expectedVersion: 1,
            resource: changed,
            index: indexPatient(changed),
          },
        ],
        audit: [audit('update')],
      });
      assert.equal(updated.version, 2);
      assert.equal((await bulk.repo.read(PATIENT, id))?.resource.gender, changed.gender);
      assert.deepEqual(
        (await bulk.repo.history(PATIENT, id)).map((h) => h.version),
        [2, 1],
      );
      const byGender = (gender: string) => ({
        type: PATIENT,
        criteria: [
          { any: [{ param: 'family', op: 'eq' as const, value: family }] },
          { any: [{ param: 'gender', op: 'eq' as const, value: gender }] },
        ],
        limit: 1000,
      });
      assert.ok((await bulk.repo.search(byGender(changed.gender))).includes(id));
      assert.ok(!(await bulk.repo.search(byGender(read!.resource.gender!))).includes(id));
      assert.equal(await verifyChain(bulk.repo), 3);
    });

    it('refuses a whole batch holding a resource that already exists, leaving nothing behind', async () => {
      const target = await store();
      const generator = createPatientGenerator(SEED);
      const clashing = generator.generate(140).patient.id;
      await target.loader.load(buildSeedRows(generator, 140, 141), [audit('first')]);
      const before = await contents(target.schema);
      await assert.rejects(
        () => target.loader.load(buildSeedRows(generator, 0, PATIENTS), [audit('clash')]),
        (err) =>
          err instanceof VersionConflictError &&
          err.id === clashing &&
          err.expectedVersion === 0 &&
          err.actualVersion === 1,
      );
      await assert.rejects(
        () => target.loader.commitNew(patientWritesOf(139, 141), [audit('clash')]),
        (err) => err instanceof VersionConflictError && err.id === clashing,
      );
      assert.deepEqual(await contents(target.schema), before, 'nothing of the refused batches');
      assert.equal(await verifyChain(target.repo), 1, 'and no audit entry for them');
      // the loader goes on after a refusal
      await target.loader.load(buildSeedRows(generator, 0, 140), [audit('after')]);
      assert.equal(await target.repo.count(PATIENT), 141);
    });

    it('keeps values COPY must escape exactly as commit() does', async () => {
      const reference = await store();
      const bulk = await store();
      const awkward = [
        'back\\slash',
        'tab\there',
        'new\nline',
        'carriage\rreturn',
        '\\N',
        '\\.',
        'quote"s and \'s',
        'Zoë Ñúñez – 東京 🩺',
        ' ',
        '',
        'ends with backslash\\',
      ];
      const writes = (prefix: string): ResourceWrite[] =>
        awkward.map((text, k) => ({
          type: 'Basic',
          id: `${prefix}-${k}`,
          expectedVersion: 0,
          resource: {
            resourceType: 'Basic',
            id: `${prefix}-${k}`,
            text: { div: text },
            note: [text, k],
          },
          // a repeated entry is stored once, as commit() stores it
          index: [
            { param: 'text', value: text },
            { param: 'text', value: text },
            { param: 'all', value: awkward.join('|') },
          ],
        }));
      await reference.repo.commit({ resources: writes('a'), audit: [audit('x\\y\t"z"')] });
      await reference.repo.commit({ resources: writes('b'), audit: [audit('2')] });
      await reference.repo.commit({ resources: writes('c'), audit: [audit('3')] });
      await bulk.loader.commitNew(writes('a'), [audit('x\\y\t"z"')]);
      await bulk.loader.load(
        asGroups(bulkRowsOf(writes('b')), (x, y) => (x < y ? -1 : 1)),
        [audit('2')],
      );
      await bulk.loader.load(
        asGroups(bulkRowsOf(writes('c')), (x, y) => (x < y ? 1 : -1)),
        [audit('3')],
      );
      assert.deepEqual(await contents(bulk.schema), await contents(reference.schema));
      for (const [k, text] of awkward.entries()) {
        const stored = await bulk.repo.read('Basic', `b-${k}`);
        assert.deepEqual(stored?.resource.note, [text, k]);
        const query = {
          type: 'Basic',
          criteria: [{ any: [{ param: 'text', op: 'eq' as const, value: text }] }],
          limit: 10,
        };
        assert.deepEqual(await bulk.repo.search(query), [`a-${k}`, `b-${k}`, `c-${k}`]);
      }
      assert.equal(await verifyChain(bulk.repo), 3);
      assert.equal((await bulk.repo.audit.readAudit(0, 1))[0].record.requestId, 'x\\y\t"z"');
    });
  },
);
