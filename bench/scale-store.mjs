// The stores of bench/scale.mjs: where each lives, how many patients it holds, the disk it takes,
// and seeding it with `openspine seed` while measuring the seeder's peak memory.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { procMemoryKb } from './lib.mjs';

const CLI = join(resolve(import.meta.dirname, '..'), 'bin', 'openspine.js');

/**
 * The store of `kind` for `size` patients: SQLite in <dir>/sqlite-<size>; PostgreSQL in database
 * openspine_scale_<size> on the server at `pgUrl`, its signing keys in <dir>/postgres-<size>.
 */
export function storeOf(kind, size, dir, pgUrl) {
  const dataDir = join(dir, `${kind}-${size}`);
  if (kind === 'sqlite') return { kind, size, dataDir, label: dataDir, flags: ['--data', dataDir] };
  if (kind !== 'postgres') throw new Error(`unknown store '${kind}' (sqlite or postgres)`);
  const database = `openspine_scale_${size}`;
  const url = new URL(pgUrl);
  url.pathname = `/${database}`;
  const databaseUrl = url.toString();
  const flags = ['--data', dataDir, '--store', 'postgres', '--database-url', databaseUrl];
  const adminUrl = Object.assign(new URL(pgUrl), { pathname: '/postgres' }).toString();
  const label = `database ${database}`;
  return { kind, size, dataDir, database, databaseUrl, adminUrl, label, flags };
}

async function withClient(connectionString, fn) {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates the store's PostgreSQL database when missing (from the server's maintenance database). */
export async function ensureDatabase(store) {
  await withClient(store.adminUrl, async (c) => {
    const found = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [store.database]);
    if (!found.rowCount) await c.query(`CREATE DATABASE ${store.database}`);
  });
}

/** Patients the store holds now (0 for a store not yet created). */
export async function patientCount(store) {
  if (store.kind === 'postgres')
    return withClient(store.databaseUrl, async (c) => {
      const table = await c.query(`SELECT to_regclass('public.resources') AS t`);
      if (!table.rows[0].t) return 0;
      const n = await c.query(`SELECT count(*) AS n FROM resources WHERE rtype = 'Patient'`);
      return Number(n.rows[0].n);
    });
  const file = join(store.dataDir, 'openspine.db');
  if (!existsSync(file)) return 0;
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare(`SELECT count(*) AS n FROM resources WHERE rtype = 'Patient'`).get().n;
  } catch {
    return 0; // created but never migrated
  } finally {
    db.close();
  }
}

/**
 * Brings a PostgreSQL store to the state autovacuum keeps a served one in (seconds taken; null for
 * SQLite): VACUUM sets the visibility map, so the index-only scans a trace makes stop visiting the
 * heap for every row, and ANALYZE refreshes the planner's statistics. The seeder does both after a
 * load (so this is quick then); a store seeded before it did, or written since, may need it, and
 * autovacuum may be off (it is on this machine's server) or not yet round.
 */
export async function analyze(store) {
  if (store.kind !== 'postgres') return null;
  const t0 = performance.now();
  await withClient(store.databaseUrl, (c) => c.query('VACUUM (ANALYZE)'));
  return (performance.now() - t0) / 1000;
}

/** Bytes the store takes: the SQLite data directory's files, or pg_database_size. */
export async function diskBytes(store) {
  if (store.kind === 'postgres')
    return withClient(store.databaseUrl, async (c) =>
      Number((await c.query('SELECT pg_database_size($1) AS b', [store.database])).rows[0].b),
    );
  const sum = (dir) =>
    readdirSync(dir, { withFileTypes: true }).reduce((total, e) => {
      const path = join(dir, e.name);
      return total + (e.isDirectory() ? sum(path) : e.isFile() ? statSync(path).size : 0);
    }, 0);
  return sum(store.dataDir);
}

/**
 * Runs `openspine seed` to `size` patients (resuming: present ones are skipped). Peak RSS comes
 * from /usr/bin/time -v when installed, else from polling the process's VmHWM (a peak, so only
 * the last 200 ms before exit can be missed). The seeder's progress bar goes to this stderr.
 */
export async function seedStore(store, seed) {
  const args = [CLI, 'seed', ...store.flags, '--patients', String(store.size), '--seed', `${seed}`];
  const timeFile = `${store.dataDir}.seed-time.txt`; // /usr/bin/time -v's report
  const timed = existsSync('/usr/bin/time');
  const child = timed
    ? spawn('/usr/bin/time', ['-v', '-o', timeFile, process.execPath, ...args], {
        stdio: ['ignore', 'pipe', 'inherit'],
      })
    : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  let peakKb = null;
  const poll = timed
    ? null
    : setInterval(() => (peakKb = procMemoryKb(child.pid, 'VmHWM') ?? peakKb), 200);
  const t0 = performance.now();
  const code = await new Promise((r) => child.on('exit', (c, signal) => r(c ?? signal)));
  const wallSeconds = (performance.now() - t0) / 1000;
  clearInterval(poll);
  if (code !== 0) throw new Error(`seed exited with ${code}: ${out.trim()}`);
  if (timed) {
    const report = readFileSync(timeFile, 'utf8');
    rmSync(timeFile, { force: true });
    peakKb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(report)?.[1] ?? NaN);
  }
  const m = /seeded (\d+) patients \((\d+) already present\) in ([\d.]+) s: (\d+) patients\/s/.exec(
    out,
  );
  if (!m) throw new Error(`unexpected seed output: ${out.trim()}`);
  const [created, skipped, seconds, rate] = m.slice(1).map(Number);
  return { created, skipped, seconds, rate, wallSeconds, peakKb, line: m[0] };
}
