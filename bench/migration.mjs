/**
 * Migration and bulk export figures: legacy rows per second from PostgreSQL into the embedded
 * SQLite store and into PostgreSQL, beside a baseline of just reading the same legacy rows (the
 * ceiling the source allows), and bulk export resources per second. Standalone:
 *   npm run build && node bench/migration.mjs [--rows PATIENTS] [--database-url URL]
 * Prints one JSON object (and a readable summary on stderr); exports migrationBench() for run.mjs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

const ROOT = resolve(import.meta.dirname, '..');
/** Issue 7's aim for the embedded store: 315 million records in under two hours. */
const SQLITE_TARGET = 50_000;
const dist = (p) => import(pathToFileURL(join(ROOT, 'dist/src', p)).href);

async function pgQuery(url, sql) {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * Rows per CPU-second of this process since `from`, every thread included (the mapping worker, GC
 * helpers); the PostgreSQL server's own CPU is not counted.
 */
function perCpu(rows, from) {
  const used = process.cpuUsage(from);
  return Math.round(rows / ((used.user + used.system) / 1e6));
}

/** Reads every legacy patient and child row the way the migration does, writing nothing. */
async function readOnlyRate(url, schema) {
  const { default: pg } = await import('pg');
  const { LegacyReader } = await dist('services/migration/legacy-read.js');
  const { CHILD_TABLES } = await dist('services/migration/legacy-schema.js');
  const pool = new pg.Pool({ connectionString: url, max: 6 });
  const reader = new LegacyReader(pool, schema);
  const began = process.hrtime.bigint();
  let rows = 0;
  const parts = 4;
  await Promise.all(
    Array.from({ length: parts }, async (_, k) => {
      for (let after = '0'; ;) {
        const patients = await reader.patients(parts, k, after, 1000);
        if (patients.length === 0) break;
        after = patients[patients.length - 1].key;
        const children = await Promise.all(
          Object.keys(CHILD_TABLES).map((t) =>
            reader.children(
              t,
              patients.map((p) => p.key),
            ),
          ),
        );
        rows += patients.length + children.reduce((n, c) => n + c.length, 0);
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - began) / 1e9;
  await pool.end();
  return { rows, seconds, rowsPerSecond: Math.round(rows / seconds) };
}

export async function migrationBench({
  rows = 20_000,
  databaseUrl = 'postgres://postgres@127.0.0.1:5432/test',
} = {}) {
  const { generateLegacy } = await dist('services/migration/legacy-generate.js');
  const { migrateLegacy } = await dist('services/migration/migrate-run.js');
  const { openRepository, sqliteFileOf } = await dist('store/open.js');
  const { EXPORT_JOB, newExportJob, runExport } = await dist('services/bulk/export-job.js');
  const schema = 'bench_legacy_' + randomUUID().replace(/-/g, '').slice(0, 10);
  const pgTarget = 'bench_target_' + randomUUID().replace(/-/g, '').slice(0, 10);
  const dataDir = mkdtempSync(join(tmpdir(), 'openspine-migbench-'));
  const result = {
    patients: rows,
    cores: cpus().length,
    note: 'machine shared with other work while measuring',
  };
  try {
    let t = Date.now();
    const counts = await generateLegacy({ databaseUrl, schema, rows, seed: 1 });
    result.legacyRows = Object.values(counts).reduce((a, b) => a + b, 0);
    result.generateSeconds = (Date.now() - t) / 1000;

    result.baselineReadOnly = await readOnlyRate(databaseUrl, schema);

    const sqlite = await openRepository({
      store: 'sqlite',
      dataDir,
      databaseUrl,
      databaseSchema: 'public',
    });
    let cpu = process.cpuUsage();
    // as `openspine migrate --data DIR` runs it: bulk-load connection, mapping worker thread
    const intoSqlite = await migrateLegacy(sqlite, {
      sourceUrl: databaseUrl,
      schema,
      workers: 4,
      batchSize: 1000,
      sqliteFile: sqliteFileOf({ store: 'sqlite', dataDir }),
    });
    result.intoSqlite = {
      rows: intoSqlite.rows,
      seconds: intoSqlite.seconds,
      rowsPerSecond: Math.round(intoSqlite.rows / intoSqlite.seconds),
      rowsPerCpuSecond: perCpu(intoSqlite.rows, cpu),
      targetRowsPerSecond: SQLITE_TARGET,
    };

    // bulk export of everything the migration wrote, straight through the job runner (no HTTP)
    const job = newExportJob(
      randomUUID(),
      { userId: 'bench', role: 'R8015', org: 'X26', requestId: randomUUID() },
      {
        level: 'system',
        types: ['Patient', 'AllergyIntolerance', 'MedicationStatement', 'MedicationRequest'],
        request: 'bench',
      },
    );
    await sqlite.commit({
      resources: [{ type: EXPORT_JOB, id: job.id, expectedVersion: 0, resource: job, index: [] }],
    });
    t = process.hrtime.bigint();
    await runExport(sqlite, job.id);
    const exportSeconds = Number(process.hrtime.bigint() - t) / 1e9;
    const done = (await sqlite.read(EXPORT_JOB, job.id)).resource;
    const exported = Object.values(done.output).reduce((n, o) => n + o.count, 0);
    result.exportFromSqlite = {
      resources: exported,
      seconds: exportSeconds,
      resourcesPerSecond: Math.round(exported / exportSeconds),
    };
    await sqlite.close();

    await pgQuery(databaseUrl, `CREATE SCHEMA ${pgTarget}`);
    const postgres = await openRepository({
      store: 'postgres',
      dataDir,
      databaseUrl,
      databaseSchema: pgTarget,
    });
    cpu = process.cpuUsage();
    const intoPg = await migrateLegacy(postgres, {
      sourceUrl: databaseUrl,
      schema,
      workers: 4,
      batchSize: 1000,
    });
    result.intoPostgres = {
      rows: intoPg.rows,
      seconds: intoPg.seconds,
      rowsPerSecond: Math.round(intoPg.rows / intoPg.seconds),
      rowsPerCpuSecond: perCpu(intoPg.rows, cpu),
    };
    await postgres.close();
    return result;
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
    await pgQuery(
      databaseUrl,
      `DROP SCHEMA IF EXISTS ${schema} CASCADE; DROP SCHEMA IF EXISTS ${pgTarget} CASCADE`,
    );
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: { rows: { type: 'string' }, 'database-url': { type: 'string' } },
  });
  const r = await migrationBench({
    rows: values.rows ? Number(values.rows) : undefined,
    databaseUrl: values['database-url'],
  });
  console.error(
    `legacy: ${r.patients} patients, ${r.legacyRows} rows (generated in ${r.generateSeconds.toFixed(1)} s); ${r.cores} cores, shared`,
  );
  console.error(`baseline, read legacy only: ${r.baselineReadOnly.rowsPerSecond} rows/s`);
  const s = r.intoSqlite;
  console.error(
    `migrate into SQLite:     ${s.rowsPerSecond} rows/s, target ${s.targetRowsPerSecond} rows/s: ${s.rowsPerSecond >= s.targetRowsPerSecond ? 'met' : 'NOT met'} ` +
      `(${s.seconds.toFixed(1)} s; ${s.rowsPerCpuSecond} rows per CPU-second of the migrating process)`,
  );
  console.error(
    `migrate into PostgreSQL: ${r.intoPostgres.rowsPerSecond} rows/s (${r.intoPostgres.seconds.toFixed(1)} s; ${r.intoPostgres.rowsPerCpuSecond} rows per CPU-second of the migrating process)`,
  );
  console.error(
    `bulk export from SQLite: ${r.exportFromSqlite.resourcesPerSecond} resources/s (${r.exportFromSqlite.resources} in ${r.exportFromSqlite.seconds.toFixed(1)} s)`,
  );
  console.log(JSON.stringify(r));
}
