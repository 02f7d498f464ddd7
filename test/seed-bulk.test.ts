/**
 * The bulk seeder (worker threads + bulk-load connection) writes exactly the rows the repository
 * path writes: same documents, same index rows, same skipping of numbers already present, an
 * audit entry per batch on an intact chain, and a whole batch refused when a resource exists.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ChainVerifier } from '../src/audit/chain.js';
import { bulkSeedPatients } from '../src/seed/bulk-seed.js';
import { createPatientGenerator } from '../src/seed/patient-generator.js';
import { MAX_PATIENTS_PER_SEED } from '../src/seed/generator-nhs-numbers.js';
import { buildSeedRows } from '../src/seed/seed-rows.js';
import { seedPatients } from '../src/seed/seed-patients.js';
import type { Patient } from 'fhir/r4.js';
import { indexPatient } from '../src/services/pds/index.js';
import { PATIENT, RELATED_PERSON } from '../src/services/pds/patient-model.js';
import { openRepository } from '../src/store/open.js';
import { SqliteBulkLoader } from '../src/store/sqlite/bulk-load.js';
import { VersionConflictError } from '../src/store/errors.js';
import type { Repository } from '../src/store/repository.js';
import { bulkLoadAudit } from './helpers/stores.js';

const PATIENTS = 300;
const SEED = 5;
const dirs: string[] = [];
const AUDIT = bulkLoadAudit('seed');
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function store(
  dataDir = mkdtempSync(join(tmpdir(), 'openspine-seed-bulk-')),
): Promise<{ repo: Repository; file: string; dataDir: string }> {
  dirs.push(dataDir);
  const repo = await openRepository({
    store: 'sqlite',
    dataDir,
    databaseUrl: '',
    databaseSchema: 'public',
  });
  return { repo, file: join(dataDir, 'openspine.db'), dataDir };
}

/** 1 while a seed's index rows are staged and not yet in search_index (staged-index.ts), else 0. */
function pendingMarks(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM search_index_pending').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

const byFamily = (family: string) => ({
  type: PATIENT,
  criteria: [{ any: [{ param: 'family', op: 'eq' as const, value: family }] }],
  limit: 1000,
});
const familyKey = (patient: Patient) =>
  indexPatient(patient).find((e) => e.param === 'family')!.value;

/** Every stored row a read or a search can see, with meta.lastUpdated checked against `updated` and masked. */
function contents(file: string): { resources: unknown[]; bodies: string[]; index: unknown[] } {
  const db = new Database(file, { readonly: true });
  try {
    const resources = db
      .prepare('SELECT rtype, rid, version, index_rows FROM resources ORDER BY rtype, rid')
      .all();
    const versions = db
      .prepare(
        'SELECT v.rtype, v.rid, v.version, v.updated, v.body, r.updated AS current FROM resource_versions v JOIN resources r USING (rtype, rid) ORDER BY v.rtype, v.rid, v.version',
      )
      .all() as { rid: string; updated: string; body: string; current: string }[];
    const bodies = versions.map((v) => {
      const lastUpdated = JSON.parse(v.body).meta.lastUpdated;
      assert.equal(lastUpdated, v.updated, `meta.lastUpdated of ${v.rid} is the version's time`);
      assert.equal(v.current, v.updated, `resources.updated of ${v.rid} is the version's time`);
      return v.body.replace(`"lastUpdated":"${lastUpdated}"`, '"lastUpdated":"-"');
    });
    return { resources, bodies, index: indexRowsOf(file) };
  } finally {
    db.close();
  }
}

/** Every search_index row, in key order. */
function indexRowsOf(file: string): unknown[] {
  const db = new Database(file, { readonly: true });
  try {
    return db
      .prepare(
        'SELECT rtype, param, value, rid FROM search_index ORDER BY rtype, param, value, rid',
      )
      .all();
  } finally {
    db.close();
  }
}

/**
 * Two staging loaders on one store, driven by `run`; afterwards the store's index must be the
 * repository path's for the same `patients`.
 */
async function twoStagingLoaders(
  patients: number,
  run: (loaders: {
    first: SqliteBulkLoader;
    second: SqliteBulkLoader;
    rows: (from: number, to: number) => ReturnType<typeof buildSeedRows>;
    dataDir: string;
  }) => Promise<void>,
): Promise<void> {
  const reference = await store();
  const target = await store();
  const first = new SqliteBulkLoader(target.file, { stageIndex: true });
  const second = new SqliteBulkLoader(target.file, { stageIndex: true });
  try {
    await seedPatients(reference.repo, { patients, seed: SEED });
    const generator = createPatientGenerator(SEED);
    const rows = (from: number, to: number) => buildSeedRows(generator, from, to);
    await run({ first, second, rows, dataDir: target.dataDir });
    assert.deepEqual(indexRowsOf(target.file), indexRowsOf(reference.file));
  } finally {
    await Promise.all([first.close(), second.close()]);
    await Promise.all([reference.repo.close(), target.repo.close()]);
  }
}

async function verifyChain(repo: Repository): Promise<number> {
  const verifier = new ChainVerifier();
  for (const entry of await repo.audit.readAudit(0, 10_000)) verifier.push(entry);
  const result = verifier.finish();
  assert.ok(result.ok, `audit chain intact: ${JSON.stringify(result.brokenAt)}`);
  const head = await repo.audit.auditHead();
  assert.deepEqual(
    [head.seq, head.hash],
    [result.checked, result.headHash],
    'the recorded head is the last entry',
  );
  return result.checked;
}

describe('bulk seeding of the embedded store', () => {
  it('writes the same documents and index rows as the repository path, with a worker or without', async () => {
    const reference = await store();
    const viaWorker = await store();
    const inline = await store();
    try {
      await seedPatients(reference.repo, { patients: PATIENTS, seed: SEED });
      // batches of 70 leave a remainder after whole multi-row chunks, and several batches pipeline
      const a = await bulkSeedPatients(viaWorker.repo, viaWorker.file, {
        patients: PATIENTS,
        seed: SEED,
        batchSize: 70,
        workers: 2,
      });
      const b = await bulkSeedPatients(inline.repo, inline.file, {
        patients: PATIENTS,
        seed: SEED,
        workers: 0,
      });
      assert.equal(a.created, PATIENTS);
      assert.equal(b.created, PATIENTS);
      assert.equal(a.firstNhsNumber, createPatientGenerator(SEED).generate(0).patient.id);
      const expected = contents(reference.file);
      assert.ok(
        expected.index.length > PATIENTS * 8,
        `the reference store is indexed (${expected.index.length} rows)`,
      );
      assert.deepEqual(contents(viaWorker.file), expected);
      assert.deepEqual(contents(inline.file), expected);
      // and through the repository, as PDS reads it
      const id = a.firstNhsNumber!;
      assert.deepEqual(
        (await viaWorker.repo.read(PATIENT, id))?.resource.name,
        (await reference.repo.read(PATIENT, id))?.resource.name,
      );
      assert.equal(await verifyChain(viaWorker.repo), 5, 'one audit entry per batch of 70');
    } finally {
      await Promise.all([reference, viaWorker, inline].map((s) => s.repo.close()));
    }
  });

  it('skips numbers already present and resumes to the same store, audited per batch', async () => {
    const reference = await store();
    const resumed = await store();
    try {
      await seedPatients(reference.repo, { patients: PATIENTS, seed: SEED });
      const first = await bulkSeedPatients(resumed.repo, resumed.file, {
        patients: 120,
        seed: SEED,
        batchSize: 50,
        workers: 1,
      });
      assert.deepEqual([first.created, first.skipped], [120, 0]);
      const second = await bulkSeedPatients(resumed.repo, resumed.file, {
        patients: PATIENTS,
        seed: SEED,
        batchSize: 50,
        workers: 1,
      });
      assert.deepEqual([second.created, second.skipped], [PATIENTS - 120, 120]);
      const again = await bulkSeedPatients(resumed.repo, resumed.file, {
        patients: PATIENTS,
        seed: SEED,
        batchSize: 50,
        workers: 1,
      });
      assert.deepEqual([again.created, again.skipped], [0, PATIENTS]);
      assert.deepEqual(contents(resumed.file), contents(reference.file));
      assert.equal(
        await resumed.repo.count(RELATED_PERSON),
        await reference.repo.count(RELATED_PERSON),
      );
      assert.equal(second.resumedAt, 120, 'the second run resumes after the first 120');
      assert.equal(again.resumedAt, PATIENTS, 'the third finds everything present');
      // 3 batches, then 4 from where the first run stopped, then nothing new
      const entries = await resumed.repo.audit.readAudit(0, 100);
      assert.deepEqual(
        entries.map((e) => [e.record.action, e.record.detail]),
        [
          ...[0, 50, 100].map((from) => [
            'pds.seed',
            { seed: SEED, from, to: Math.min(from + 50, 120), numbers: 'test' },
          ]),
          ...[120, 170, 220, 270].map((from) => [
            'pds.seed',
            { seed: SEED, from, to: Math.min(from + 50, PATIENTS), numbers: 'test' },
          ]),
        ],
      );
      assert.equal(await verifyChain(resumed.repo), 7);
    } finally {
      await Promise.all([reference.repo.close(), resumed.repo.close()]);
    }
  });

  it('starts with small batches by default, then larger ones, one audit entry each', async () => {
    const target = await store();
    try {
      const result = await bulkSeedPatients(target.repo, target.file, {
        patients: 6_000,
        seed: SEED,
        workers: 0,
      });
      assert.equal(result.created, 6_000);
      const entries = await target.repo.audit.readAudit(0, 100);
      assert.deepEqual(
        entries.map((e) => e.record.detail),
        [
          { seed: SEED, from: 0, to: 5_000, numbers: 'test' },
          { seed: SEED, from: 5_000, to: 6_000, numbers: 'test' },
        ],
      );
      assert.equal(await target.repo.count(PATIENT), 6_000);
    } finally {
      await target.repo.close();
    }
  });

  it('stages index rows until the seed ends; rows an interrupted seed left staged are indexed at the next open', async () => {
    const reference = await store();
    const staged = await store();
    const loader = new SqliteBulkLoader(staged.file, { stageIndex: true });
    try {
      await seedPatients(reference.repo, { patients: 120, seed: SEED });
      const generator = createPatientGenerator(SEED);
      await loader.load(buildSeedRows(generator, 0, 120), [AUDIT]);
      await loader.close(); // as a seed stopped before its end
      const first = generator.generate(0).patient;
      assert.equal(pendingMarks(staged.file), 1, 'the rows are pending');
      assert.deepEqual(indexRowsOf(staged.file), [], 'and not yet in the index');
      assert.deepEqual(await staged.repo.search(byFamily(familyKey(first))), []);
      await staged.repo.close();
      const reopened = await store(staged.dataDir);
      staged.repo = reopened.repo;
      assert.equal(pendingMarks(staged.file), 0);
      assert.deepEqual(contents(staged.file), contents(reference.file));
      assert.ok((await staged.repo.search(byFamily(familyKey(first)))).includes(first.id!));
    } finally {
      await Promise.all([reference.repo.close(), staged.repo.close()]);
    }
  });

  it('keeps the index rows of an update committed while the seed had rows staged, not the staged ones', async () => {
    const reference = await store();
    const staged = await store();
    const loader = new SqliteBulkLoader(staged.file, { stageIndex: true });
    try {
      await seedPatients(reference.repo, { patients: 60, seed: SEED });
      const generator = createPatientGenerator(SEED);
      await loader.load(buildSeedRows(generator, 0, 60), [AUDIT]);
      const patient = generator.generate(7).patient;
      const renamed: Patient = {
        ...patient,
        name: [{ ...patient.name![0], family: 'Stagedupdate' }],
      };
      for (const repo of [reference.repo, staged.repo]) {
        const write = { type: PATIENT, id: patient.id!, expectedVersion: 1 };
        await repo.commit({
          resources: [{ ...write, resource: renamed, index: indexPatient(renamed) }],
        });
      }
      assert.ok((await loader.indexStaged()) > 60 * 8);
      assert.equal(pendingMarks(staged.file), 0);
      assert.deepEqual(indexRowsOf(staged.file), indexRowsOf(reference.file));
      assert.deepEqual(await staged.repo.search(byFamily(familyKey(renamed))), [patient.id]);
      assert.ok(!(await staged.repo.search(byFamily(familyKey(patient)))).includes(patient.id!));
    } finally {
      await loader.close();
      await Promise.all([reference.repo.close(), staged.repo.close()]);
    }
  });

  it('rebuilds from the resources when another open indexed its rows and an update followed', async () => {
    const reference = await store();
    const staged = await store();
    const loader = new SqliteBulkLoader(staged.file, { stageIndex: true });
    try {
      await seedPatients(reference.repo, { patients: 80, seed: SEED });
      const generator = createPatientGenerator(SEED);
      await loader.load(buildSeedRows(generator, 0, 40), [AUDIT]);
      // another process opens the store mid-seed: it indexes the 40 and clears the mark
      const other = await store(staged.dataDir);
      assert.equal(pendingMarks(staged.file), 0);
      // so this update is not marked superseded, and the loader's staged copy of patient 10 is stale
      const patient = generator.generate(10).patient;
      const renamed: Patient = { ...patient, name: [{ ...patient.name![0], family: 'Midseed' }] };
      for (const repo of [reference.repo, other.repo]) {
        const write = { type: PATIENT, id: patient.id!, expectedVersion: 1 };
        await repo.commit({
          resources: [{ ...write, resource: renamed, index: indexPatient(renamed) }],
        });
      }
      await other.repo.close();
      await loader.load(buildSeedRows(generator, 40, 80), [AUDIT]);
      await loader.indexStaged();
      assert.deepEqual(indexRowsOf(staged.file), indexRowsOf(reference.file));
    } finally {
      await loader.close();
      await Promise.all([reference.repo.close(), staged.repo.close()]);
    }
  });

  it('two seeds loading at once: the second writes its index rows directly, and none is lost', () =>
    twoStagingLoaders(120, async ({ first, second, rows }) => {
      await first.load(rows(0, 40), [AUDIT]);
      await second.load(rows(40, 80), [AUDIT]);
      await first.load(rows(80, 120), [AUDIT]);
      assert.equal(await second.indexStaged(), 0, 'the second staged nothing');
      assert.ok((await first.indexStaged()) > 80 * 8);
    }));

  it('a seed whose mark another seed now holds rebuilds that one from the resources at its end', () =>
    twoStagingLoaders(80, async ({ first, second, rows, dataDir }) => {
      await first.load(rows(0, 40), [AUDIT]);
      await (await store(dataDir)).repo.close(); // an open indexes the 40, clearing the mark
      await second.load(rows(40, 80), [AUDIT]); // so this one stages under its own
      assert.ok((await first.indexStaged()) > 40 * 8, "the first rebuilt the second's 40");
      assert.equal(await second.indexStaged(), 0, 'leaving the second nothing to add');
    }));

  it('refuses to build index rows whose value holds the row separator', () => {
    const real = createPatientGenerator(SEED);
    const generator = {
      ...real,
      generate: (i: number) => {
        const generated = real.generate(i);
        generated.patient.telecom = [{ system: 'email', value: 'a\u0000b@example.org' }];
        return generated;
      },
    };
    assert.throws(() => buildSeedRows(generator, 0, 1), /row separator/);
  });

  it('refuses a whole batch when one of its resources already exists', async () => {
    const target = await store();
    const loader = new SqliteBulkLoader(target.file);
    try {
      const generator = createPatientGenerator(SEED);
      await loader.load(buildSeedRows(generator, 140, 141), [AUDIT]); // one patient that a later batch repeats
      const before = contents(target.file);
      const clash = buildSeedRows(generator, 0, 300); // more than one multi-row chunk of resources
      await assert.rejects(
        () => loader.load(clash, [AUDIT]),
        (err) =>
          err instanceof VersionConflictError && err.id === generator.generate(140).patient.id,
      );
      assert.deepEqual(contents(target.file), before, 'nothing of the refused batch was written');
      assert.equal(await verifyChain(target.repo), 1, 'and no audit entry for it');
    } finally {
      await loader.close();
      await target.repo.close();
    }
  });

  it('reports a generator error from the worker and stops', async () => {
    const target = await store();
    try {
      await assert.rejects(
        bulkSeedPatients(target.repo, target.file, {
          patients: 10,
          seed: SEED,
          startIndex: MAX_PATIENTS_PER_SEED - 5,
          workers: 1,
        }),
        /out of range/,
      );
      assert.equal(await target.repo.count(PATIENT), 0);
    } finally {
      await target.repo.close();
    }
  });
});
