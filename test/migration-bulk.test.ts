/**
 * Into the embedded store the migration writes through a bulk-load connection with a mapping worker
 * thread. It must store exactly what the Repository.commit() path stores: same resources, documents,
 * index rows, quarantine, checkpoints and audit entries on an intact chain, and it must refuse a
 * Patient already in the target the same way (quarantined with the reason, nothing overwritten).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { ChainVerifier } from '../src/audit/chain.js';
import { patientProblem, cleanNhsNumber } from '../src/services/migration/legacy-clean.js';
import { LegacyReader } from '../src/services/migration/legacy-read.js';
import { migrateLegacy, type MigrateResult } from '../src/services/migration/migrate-run.js';
import { MIGRATION_QUARANTINE, MIGRATION_RUN } from '../src/services/migration/migration-state.js';
import { PATIENT } from '../src/services/pds/patient-model.js';
import { openRepository } from '../src/store/open.js';
import type { Repository } from '../src/store/repository.js';
import { legacySource } from './helpers/legacy-source.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function sqliteStore(): Promise<{ repo: Repository; file: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'openspine-mig-bulk-'));
  dirs.push(dataDir);
  return {
    repo: await openRepository({
      store: 'sqlite',
      dataDir,
      databaseUrl: '',
      databaseSchema: 'public',
    }),
    file: join(dataDir, 'openspine.db'),
  };
}

/** Everything stored, with commit times masked (after checking each document's lastUpdated is its row's). */
function contents(file: string): {
  resources: unknown[];
  bodies: string[];
  index: unknown[];
  audit: string[];
} {
  const db = new Database(file, { readonly: true });
  try {
    const resources = db
      .prepare('SELECT rtype, rid, version, index_rows FROM resources ORDER BY rtype, rid')
      .all();
    const rows = db
      .prepare(
        'SELECT rtype, rid, version, updated, body FROM resource_versions WHERE rtype <> ? ORDER BY rtype, rid, version',
      )
      .all(MIGRATION_RUN) as { rtype: string; rid: string; updated: string; body: string }[];
    const bodies = rows.map((r) => {
      const doc = JSON.parse(r.body);
      assert.equal(
        doc.meta?.lastUpdated,
        r.updated,
        `${r.rtype}/${r.rid}: meta.lastUpdated is the row's commit time`,
      );
      return r.body.replace(`"lastUpdated":"${r.updated}"`, '"lastUpdated":"T"');
    });
    const index = db
      .prepare(
        'SELECT rtype, param, value, rid FROM search_index ORDER BY rtype, param, value, rid',
      )
      .all();
    // batches commit in whatever order the partitions finish, and a batch entry carries its own time
    const audit = (db.prepare('SELECT record FROM audit_log').all() as { record: string }[])
      .map((r) => JSON.parse(r.record))
      .map((r) => JSON.stringify(r.action === 'migration.batch' ? { ...r, time: 'T' } : r))
      .sort();
    return { resources, bodies, index, audit };
  } finally {
    db.close();
  }
}

async function chainLength(repo: Repository): Promise<number> {
  const verifier = new ChainVerifier();
  for (let after = 0; ;) {
    const page = await repo.audit.readAudit(after, 5000);
    if (!page.length) break;
    for (const entry of page) verifier.push(entry);
    after = page[page.length - 1].seq;
  }
  const result = verifier.finish();
  assert.ok(result.ok, `audit chain intact: ${JSON.stringify(result.brokenAt)}`);
  return result.checked;
}

describe('migration into the embedded store through the bulk path', () => {
  let source: Awaited<ReturnType<typeof legacySource>>;
  const viaCommit = {
    file: '',
    repo: null as unknown as Repository,
    result: null as unknown as MigrateResult,
  };
  const viaBulk = {
    file: '',
    repo: null as unknown as Repository,
    result: null as unknown as MigrateResult,
  };
  let taken = '';

  before(async () => {
    source = await legacySource(400, 23);
    // a valid legacy patient whose number is already in the target (seeded, or created by PDS)
    const client = new pg.Client({ connectionString: source.url });
    await client.connect();
    const candidates = await new LegacyReader(client, source.schema).patients(1, 0, '0', 50);
    await client.end();
    taken = cleanNhsNumber(candidates.find((r) => patientProblem(r) === null)!.nhs_number);
    for (const [target, bulk] of [
      [viaCommit, false],
      [viaBulk, true],
    ] as const) {
      const store = await sqliteStore();
      Object.assign(target, store);
      const existing = {
        resourceType: 'Patient',
        id: taken,
        identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: taken }],
      };
      await store.repo.commit({
        resources: [
          { type: PATIENT, id: taken, expectedVersion: 0, resource: existing, index: [] },
        ],
      });
      target.result = await migrateLegacy(store.repo, {
        sourceUrl: source.url,
        schema: source.schema,
        workers: 3,
        batchSize: 40,
        sqliteFile: bulk ? store.file : undefined,
      });
    }
  });
  after(async () => {
    await viaCommit.repo?.close();
    await viaBulk.repo?.close();
    await source?.drop();
  });

  it('accounts for the same rows as the repository path', () => {
    const { seconds: _a, ...commitResult } = viaCommit.result;
    const { seconds: _b, ...bulkResult } = viaBulk.result;
    assert.deepEqual(bulkResult, commitResult, 'same totals');
    assert.ok(
      bulkResult.migrated > 0 && bulkResult.quarantined > 0,
      `both kinds of row present: ${JSON.stringify(bulkResult)}`,
    );
  });

  it('stores identical resources, documents, index rows and audit entries', () => {
    const a = contents(viaCommit.file);
    const b = contents(viaBulk.file);
    assert.ok(
      a.resources.length > 400,
      `a real migration to compare: ${a.resources.length} resources`,
    );
    assert.deepEqual(b.resources, a.resources, 'resources and their index_rows');
    assert.deepEqual(b.bodies, a.bodies, 'documents');
    assert.deepEqual(b.index, a.index, 'search index');
    assert.deepEqual(b.audit, a.audit, 'audit records');
  });

  it('keeps the audit chain intact', async () => {
    assert.equal(
      await chainLength(viaBulk.repo),
      await chainLength(viaCommit.repo),
      'same number of entries, each chain intact',
    );
  });

  it('quarantines a patient whose number is already in the target, leaving that Patient untouched', async () => {
    const stored = await viaBulk.repo.read(PATIENT, taken);
    assert.equal(stored?.version, 1, 'the existing Patient is not overwritten');
    assert.equal(stored?.resource.name, undefined, 'the existing Patient keeps its own content');
    const ids = await viaBulk.repo.search({
      type: MIGRATION_QUARANTINE,
      criteria: [{ any: [{ param: 'run', op: 'eq', value: viaBulk.result.run }] }],
      limit: 100_000,
    });
    const reasons = (await viaBulk.repo.readMany(MIGRATION_QUARANTINE, ids)).map(
      (r) => r.resource.reason as string,
    );
    assert.ok(
      reasons.includes(`NHS Number ${taken} already present in the target store`),
      `quarantined with the reason: ${reasons.slice(0, 5).join('; ')}`,
    );
  });
});
