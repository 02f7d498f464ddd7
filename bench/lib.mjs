import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import pg from 'pg';

export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export async function waitFor(url, timeoutMs = 60_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${url}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function startProcess(args, opts = {}) {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], ...opts });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  return {
    child,
    output: () => out,
    stop: () =>
      new Promise((r) => {
        if (child.exitCode !== null || child.signalCode !== null) return r();
        child.once('exit', r);
        child.kill('SIGTERM');
      }),
  };
}

export function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Runs autocannon and records every response time so p95 can be reported (autocannon has p90 and p97.5 only). */
export async function load({ url, headers = {}, setupRequest, duration = 10, connections = 10 }) {
  const times = [];
  const statuses = new Map();
  const instance = autocannon({
    url,
    duration,
    connections,
    headers,
    requests: setupRequest ? [{ setupRequest }] : undefined,
  });
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    times.push(responseTime);
    statuses.set(statusCode, (statuses.get(statusCode) ?? 0) + 1);
  });
  const result = await instance;
  times.sort((a, b) => a - b);
  return {
    rps: result.requests.average,
    p50: percentile(times, 50),
    p95: percentile(times, 95),
    total: times.length,
    statuses: Object.fromEntries(statuses),
    errors: result.errors + result.timeouts,
  };
}

/** CPU time (user + system, ms) a process has used so far, from /proc (Linux); null elsewhere. */
export function cpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat, in clock ticks (100 per second on Linux)
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return null;
  }
}

/** A /proc/<pid>/status memory figure in kB (VmRSS now, VmHWM the peak so far); null when unreadable. */
export function procMemoryKb(pid, field = 'VmRSS') {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1];
    return kb === undefined ? null : Number(kb);
  } catch {
    return null;
  }
}

const BENCH_DATABASE_URL =
  process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Whether the bench's PostgreSQL answers (the PostgreSQL figures are skipped when it does not). */
export async function postgresReachable() {
  const c = new pg.Client({ connectionString: BENCH_DATABASE_URL, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    await c.end();
    return true;
  } catch {
    return false;
  }
}

/**
 * The stores a bench measures: SQLite, and PostgreSQL when it answers; `only` (a list, e.g. from
 * BENCH_*_STORES=sqlite) narrows them.
 */
export async function benchStores(only) {
  const kinds = ['sqlite', ...((await postgresReachable()) ? ['postgres'] : [])];
  return kinds.filter((k) => !only || only.includes(k));
}

/** A process's CPU milliseconds per item between two cpuMs readings (null when one is missing). */
export const cpuPerItem = (before, after, items) =>
  before === null || after === null ? null : (after - before) / Math.max(1, items);

/** The CLI flags naming a bench store (a data directory, and for PostgreSQL its own schema). */
export function storeFlags(target) {
  const flags = ['--data', target.dataDir, '--store', target.store];
  if (target.store === 'postgres')
    flags.push('--database-url', target.databaseUrl, '--database-schema', target.databaseSchema);
  return flags;
}

/** Rate limits off: one bench client is far over a single user's fair share. */
export const UNLIMITED = ['--rate-limit-user', '0', '--rate-limit-app', '0'];

/**
 * A fresh store of `kind` (a temporary data directory; for PostgreSQL a schema of its own), set up
 * by `setupScript` (a TypeScript file run with tsx, given the store's flags and `setupArgs`, printing
 * one JSON line last), and an `openspine serve` process on it (`cliArgs` start the CLI). Returns the
 * server's base URL, the setup's JSON, the server process, and `close` (stops the server, then drops
 * the schema and the data).
 */
export async function benchServer(kind, { prefix, root, cliArgs, setupScript, setupArgs = [] }) {
  const dataDir = mkdtempSync(join(tmpdir(), `openspine-${prefix}-bench-`));
  const schema =
    `${prefix.replace(/\W/g, '_')}_bench_` + randomUUID().replace(/-/g, '').slice(0, 12);
  const target = { store: kind, dataDir, databaseUrl: BENCH_DATABASE_URL, databaseSchema: schema };
  // run in reverse order of registration: the server stops before its schema and data go
  const cleanups = [() => rmSync(dataDir, { recursive: true, force: true })];
  const close = async () => {
    for (const c of cleanups.reverse()) await c();
  };
  try {
    if (kind === 'postgres') {
      const c = new pg.Client({ connectionString: BENCH_DATABASE_URL });
      await c.connect();
      await c.query(`CREATE SCHEMA ${schema}`);
      await c.end();
      cleanups.push(async () => {
        const d = new pg.Client({ connectionString: BENCH_DATABASE_URL });
        await d.connect();
        await d.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await d.end();
      });
    }
    const output = execFileSync(
      process.execPath,
      ['--import', 'tsx', join(root, setupScript), ...storeFlags(target), ...setupArgs],
      { cwd: root, encoding: 'utf8' },
    );
    const setup = JSON.parse(output.trim().split('\n').pop());
    const port = await freePort();
    const server = startProcess(
      [
        ...cliArgs,
        'serve',
        ...storeFlags(target),
        '--port',
        String(port),
        '--host',
        '127.0.0.1',
        '--log-level',
        'warn',
        ...UNLIMITED,
      ],
      { cwd: root },
    );
    cleanups.push(server.stop);
    const base = `http://127.0.0.1:${port}`;
    await waitFor(`${base}/_ping`);
    return { base, setup, server, close };
  } catch (err) {
    await close();
    throw err;
  }
}
