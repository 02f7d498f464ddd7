// `npm run bench`: every figure printed beside a baseline measured in the same run.
// Servers run in their own processes; load comes from autocannon in this process.
import { randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execFileSync } from 'node:child_process';
import { cpuMs, freePort, load, percentile, startProcess, waitFor } from './lib.mjs';
import { securityHookCostMicros } from './security-hook-cost.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const CLI = join(ROOT, 'bin', 'openspine.js');
const PDS = '/personal-demographics/FHIR/R4';
const PATIENTS = Number(process.env.BENCH_PATIENTS ?? 100_000);
const DURATION = Number(process.env.BENCH_SECONDS ?? 15);
const TRACES = Number(process.env.BENCH_TRACES ?? 400);

// BENCH_DATA reuses an already seeded data directory (the seed figure is then skipped)
const reuse = process.env.BENCH_DATA;
const dataDir = reuse ?? mkdtempSync(join(tmpdir(), 'openspine-bench-'));
const cleanups = reuse ? [] : [() => rmSync(dataDir, { recursive: true, force: true })];
const signed = (n) => (n >= 0 ? '+' : '') + fmt(n, 1);
const fmt = (n, d = 0) =>
  Number(n).toLocaleString('en-GB', { maximumFractionDigits: d, minimumFractionDigits: d });

try {
  console.log(
    `OpenSpine benchmark: ${PATIENTS.toLocaleString('en-GB')} patients, ${DURATION} s per load run, node ${process.version}\n`,
  );

  // 1. seed rate into SQLite (the CLI prints patients/s)
  if (reuse) console.log(`seed    skipped: reusing ${reuse}`);
  else {
    const seedOut = execFileSync(
      process.execPath,
      [CLI, 'seed', '--data', dataDir, '--patients', String(PATIENTS), '--seed', '1'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const seedRate = Number(/([0-9]+) patients\/s/.exec(seedOut)?.[1]);
    console.log(
      `seed    ${fmt(seedRate)} patients/s into SQLite (target >= 20,000)  [${seedOut.trim()}]`,
    );
  }

  const token = execFileSync(
    process.execPath,
    [CLI, 'token', '--data', dataDir, '--role', 'R8000', '--user', 'bench', '--org', 'A81001'],
    { encoding: 'utf8' },
  ).trim();
  const port = await freePort();
  // rate limits off: one bench client is far over a single user's fair share; section 3 measures them separately
  const server = startProcess([
    CLI,
    'serve',
    '--data',
    dataDir,
    '--port',
    String(port),
    '--log-level',
    'warn',
    '--rate-limit-user',
    '0',
    '--rate-limit-app',
    '0',
  ]);
  cleanups.unshift(server.stop);
  const base = `http://127.0.0.1:${port}`;
  await waitFor(`${base}/_ping`);

  // sample real patients to read and trace
  const auth = { authorization: `Bearer ${token}` };
  const sample = [];
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(join(dataDir, 'openspine.db'), { readonly: true });
  const rows = db
    .prepare(
      `SELECT v.body FROM resources r JOIN resource_versions v ON v.rtype = r.rtype AND v.rid = r.rid AND v.version = r.version WHERE r.rtype = 'Patient' ORDER BY random() LIMIT 2000`,
    )
    .all();
  db.close();
  for (const r of rows) {
    const p = JSON.parse(r.body);
    if (p.meta?.security?.[0]?.code === 'R') continue;
    sample.push(p);
  }
  const bareFile = join(dataDir, 'bare-patient.json');
  writeFileSync(bareFile, JSON.stringify(sample[0]));

  // 2. bare Fastify JSON route (baseline) vs PDS read with token check and audit
  const barePort = await freePort();
  const bare = startProcess([join(ROOT, 'bench', 'bare-server.mjs'), String(barePort), bareFile]);
  cleanups.unshift(bare.stop);
  await waitFor(`http://127.0.0.1:${barePort}/Patient/1`);
  // both runs make the client do the same work per request (rotating ids, fresh X-Request-ID, token
  // header), so the ratio compares the servers rather than two differently loaded clients
  let i = 0;
  const rotating = (prefix) => (req) => ({
    ...req,
    path: `${prefix}/Patient/${sample[i++ % sample.length].id}`,
    headers: { ...req.headers, ...auth, 'x-request-id': randomUUID() },
  });
  // alternate short rounds so that both see the same machine weather; report medians
  const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
  const per = Math.max(2, Math.round(DURATION / ROUNDS));
  // the security cost is a difference of two noisy figures: more rounds, and the median of them
  const AUTH_ROUNDS = Number(process.env.BENCH_AUTH_ROUNDS ?? 9);
  const authPer = Number(process.env.BENCH_AUTH_SECONDS ?? 3);
  const bareRuns = [],
    readRuns = [];
  // an uncounted warm-up lets both servers' JIT settle before measuring
  await load({
    url: `http://127.0.0.1:${barePort}`,
    duration: 2,
    headers: auth,
    setupRequest: rotating(''),
  });
  await load({ url: base, duration: 2, headers: auth, setupRequest: rotating(PDS) });
  for (let round = 0; round < ROUNDS; round++) {
    bareRuns.push(
      await load({
        url: `http://127.0.0.1:${barePort}`,
        duration: per,
        headers: auth,
        setupRequest: rotating(''),
      }),
    );
    readRuns.push(
      await load({ url: base, duration: per, headers: auth, setupRequest: rotating(PDS) }),
    );
  }
  await bare.stop();
  const median = (runs, key) =>
    runs.map((r) => r[key]).sort((a, b) => a - b)[Math.floor(runs.length / 2)];
  const bareRun = {
    rps: median(bareRuns, 'rps'),
    p50: median(bareRuns, 'p50'),
    p95: median(bareRuns, 'p95'),
  };
  const readRun = {
    rps: median(readRuns, 'rps'),
    p50: median(readRuns, 'p50'),
    p95: median(readRuns, 'p95'),
    statuses: readRuns.reduce((acc, r) => {
      for (const [k, v] of Object.entries(r.statuses)) acc[k] = (acc[k] ?? 0) + v;
      return acc;
    }, {}),
  };
  const ratios = bareRuns.map((b, k) => (100 * readRuns[k].rps) / b.rps);
  console.log(
    `\nread    ${ROUNDS} alternating rounds of ${per} s each, medians shown; per-round ratios ${ratios.map((r) => fmt(r, 1) + '%').join(', ')}`,
  );
  console.log(
    `        bare Fastify JSON route: ${fmt(bareRun.rps)} req/s, p50 ${fmt(bareRun.p50, 2)} ms, p95 ${fmt(bareRun.p95, 2)} ms  (baseline)`,
  );
  console.log(
    `        PDS GET /Patient/{id} (token + RBAC + audit write): ${fmt(readRun.rps)} req/s, p50 ${fmt(readRun.p50, 2)} ms, p95 ${fmt(readRun.p95, 2)} ms, statuses ${JSON.stringify(readRun.statuses)}`,
  );
  console.log(
    `        ratio ${fmt((100 * readRun.rps) / bareRun.rps, 1)}% of the bare route, medians (target >= 40%)`,
  );

  // 3. the cost of security: the same PDS read with authentication and policy switched off (fixed
  // caller, same store and audit writes), against the normal server; and with rate limiting on
  // (limit high enough that nothing is refused: the cost of counting)
  {
    // each server gets its own copy of the store, so one server's background audit indexing never
    // runs on the CPU while another is being measured (all three write audit entries)
    const copyOf = (name) => {
      const dir = `${dataDir}-${name}`;
      rmSync(dir, { recursive: true, force: true });
      cpSync(dataDir, dir, { recursive: true });
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      return dir;
    };
    await server.stop(); // a closed SQLite store copies whole
    const onDir = copyOf('auth-on'),
      offDir = copyOf('auth-off'),
      limitedDir = copyOf('rate-limited');
    const onPort = await freePort();
    const on = startProcess([
      CLI,
      'serve',
      '--data',
      onDir,
      '--port',
      String(onPort),
      '--log-level',
      'warn',
      '--rate-limit-user',
      '0',
      '--rate-limit-app',
      '0',
    ]);
    cleanups.unshift(on.stop);
    const noAuthPort = await freePort();
    const noAuth = startProcess([
      join(ROOT, 'bench', 'noauth-server.mjs'),
      String(noAuthPort),
      offDir,
    ]);
    cleanups.unshift(noAuth.stop);
    const limitedPort = await freePort();
    const limited = startProcess([
      CLI,
      'serve',
      '--data',
      limitedDir,
      '--port',
      String(limitedPort),
      '--log-level',
      'warn',
      '--rate-limit-user',
      '100000000',
    ]);
    cleanups.unshift(limited.stop);
    for (const p of [onPort, noAuthPort, limitedPort]) await waitFor(`http://127.0.0.1:${p}/_ping`);
    const targets = {
      off: `http://127.0.0.1:${noAuthPort}`,
      on: `http://127.0.0.1:${onPort}`,
      limited: `http://127.0.0.1:${limitedPort}`,
    };
    const runs = { off: [], on: [], limited: [] };
    for (const url of Object.values(targets))
      await load({ url, duration: 2, headers: auth, setupRequest: rotating(PDS) });
    const pids = { off: noAuth.child.pid, on: on.child.pid, limited: limited.child.pid };
    const names = Object.keys(targets);
    for (let round = 0; round < AUTH_ROUNDS; round++) {
      // rotate the order each round so no server always runs first (or last) in a round
      for (const name of names
        .slice(round % names.length)
        .concat(names.slice(0, round % names.length))) {
        const cpu0 = cpuMs(pids[name]);
        const run = await load({
          url: targets[name],
          duration: authPer,
          headers: auth,
          setupRequest: rotating(PDS),
        });
        const cpu1 = cpuMs(pids[name]);
        // server CPU per answered request: far less sensitive to the machine's noise than throughput
        run.cpuUs = cpu0 === null || cpu1 === null ? NaN : ((cpu1 - cpu0) * 1000) / run.total;
        runs[name].push(run);
      }
    }
    await Promise.all([on.stop(), noAuth.stop(), limited.stop()]);
    const med = (name) => median(runs[name], 'rps');
    const overheads = runs.on.map((r, k) => 100 * (1 - r.rps / runs.off[k].rps));
    const bad = Object.entries(runs).flatMap(([name, rs]) =>
      rs.flatMap((r) =>
        Object.keys(r.statuses)
          .filter((s) => s !== '200')
          .map((s) => `${name}:${s}`),
      ),
    );
    console.log(
      `\nauth    ${AUTH_ROUNDS} alternating rounds of ${authPer} s each, medians; per-round overhead ${overheads.map((o) => fmt(o, 1) + '%').join(', ')}`,
    );
    console.log(
      `        PDS read, authentication and policy OFF (fixed caller, audit still written): ${fmt(med('off'))} req/s, p95 ${fmt(median(runs.off, 'p95'), 2)} ms  (baseline)`,
    );
    console.log(
      `        PDS read, token verification + revocation list + RBAC + patient rules ON:  ${fmt(med('on'))} req/s, p95 ${fmt(median(runs.on, 'p95'), 2)} ms`,
    );
    const cpu = (name) => median(runs[name], 'cpuUs');
    const paired = [...overheads].sort((a, b) => a - b)[Math.floor(overheads.length / 2)];
    console.log(
      `        server CPU per read: OFF ${fmt(cpu('off'), 1)} µs, ON ${fmt(cpu('on'), 1)} µs, rate-limited ${fmt(cpu('limited'), 1)} µs (medians)`,
    );
    console.log(
      `        overhead: throughput ${fmt(paired, 1)}% (median of per-round pairs), ${fmt(100 * (1 - med('on') / med('off')), 1)}% (ratio of medians); CPU per read ${signed(100 * (cpu('on') / cpu('off') - 1))}% (target <= 15%)`,
    );
    const hook = await securityHookCostMicros();
    console.log(
      `        in-process cost of the cached security checks: ${fmt(hook, 2)} µs per request = ${fmt((100 * hook) / cpu('off'), 1)}% of the server CPU per read`,
    );
    console.log(
      `        with per-user rate limiting also on (nothing refused): ${fmt(med('limited'))} req/s, ${fmt(100 * (1 - med('limited') / med('off')), 1)}% below the baseline${bad.length ? `; non-200 answers: ${bad.join(', ')}` : ''}`,
    );
  }

  // 4. trace: sequential realistic queries, client-side latency (on the first server, restarted)
  const again = startProcess([
    CLI,
    'serve',
    '--data',
    dataDir,
    '--port',
    String(port),
    '--log-level',
    'warn',
    '--rate-limit-user',
    '0',
    '--rate-limit-app',
    '0',
  ]);
  cleanups.unshift(again.stop);
  await waitFor(`${base}/_ping`);
  const timed = async (query) => {
    const t0 = performance.now();
    const res = await fetch(`${base}${PDS}/Patient?${query}`, {
      headers: { ...auth, 'x-request-id': randomUUID() },
    });
    const body = await res.json();
    return { ms: performance.now() - t0, ok: res.status === 200, body };
  };
  const results = { exact: [], fuzzy: [] };
  let firstHit = 0,
    fuzzyCount = 0;
  for (let k = 0; k < TRACES; k++) {
    const p = sample[(k * 7) % sample.length];
    const name = p.name.find((n) => n.use === 'usual') ?? p.name[0];
    const exact = new URLSearchParams({
      family: name.family,
      birthdate: `eq${p.birthDate}`,
      gender: p.gender,
    });
    const e = await timed(exact.toString());
    if (e.ok) results.exact.push(e.ms);
    // fuzzy: misspell the family name by swapping two inner letters
    const f =
      name.family.length > 3
        ? name.family[0] + name.family[2] + name.family[1] + name.family.slice(3)
        : name.family;
    const fuzzy = new URLSearchParams({
      family: f,
      given: name.given[0],
      birthdate: `eq${p.birthDate}`,
      '_fuzzy-match': 'true',
    });
    const z = await timed(fuzzy.toString());
    if (z.ok) {
      results.fuzzy.push(z.ms);
      fuzzyCount++;
      if (z.body.entry?.[0]?.resource?.id === p.id) firstHit++;
    }
  }
  for (const kind of ['exact', 'fuzzy']) {
    const t = results[kind].sort((a, b) => a - b);
    console.log(
      `${kind === 'exact' ? '\ntrace' : '     '}   ${kind === 'exact' ? 'algorithmic (family+birthdate+gender)' : 'fuzzy (misspelt family, given, birthdate)'}: p50 ${fmt(percentile(t, 50), 1)} ms, p95 ${fmt(percentile(t, 95), 1)} ms over ${t.length} queries on ${fmt(PATIENTS)} patients (target p95 < 50 ms)`,
    );
  }
  console.log(`        fuzzy ranked the true patient first in ${firstHit}/${fuzzyCount} queries`);

  // 5. messaging and notifications; 6. EPS end to end; 7. migration and bulk export (each starts its own servers and stores)
  await (await import('./events.mjs')).eventsBench();
  console.log('');
  await (await import('./eps.mjs')).runEpsBench();
  // e-RS booking end to end (create, slot search, book) on SQLite and PostgreSQL, beside a referral read
  await (await import('./ers-booking.mjs')).ersBookingBench();
  // e-RS service search (a010) over 10,000 e-RS services on SQLite, beside a PDS read on the same server
  await (await import('./service-search.mjs')).serviceSearchBench();
  // what observability costs: the PDS read with metrics off, metrics on, metrics + tracing on
  await (await import('./observability.mjs')).observabilityBench();
  const m = await (
    await import('./migration.mjs')
  ).migrationBench({ rows: Number(process.env.BENCH_MIGRATION_ROWS ?? 20_000) });
  console.log(`
migrate ${fmt(m.patients)} legacy patients, ${fmt(m.legacyRows)} legacy rows in PostgreSQL`);
  console.log(
    `        reading the legacy rows alone: ${fmt(m.baselineReadOnly.rowsPerSecond)} rows/s (baseline)`,
  );
  console.log(
    `        into SQLite: ${fmt(m.intoSqlite.rowsPerSecond)} rows/s (${fmt(m.intoSqlite.rowsPerCpuSecond)} per CPU-second of the migrating process; target >= 50,000), ${fmt((100 * m.intoSqlite.rowsPerSecond) / m.baselineReadOnly.rowsPerSecond, 1)}% of the read rate`,
  );
  console.log(
    `        into PostgreSQL: ${fmt(m.intoPostgres.rowsPerSecond)} rows/s (${fmt(m.intoPostgres.rowsPerCpuSecond)} per CPU-second)`,
  );
  console.log(
    `export  bulk $export from SQLite: ${fmt(m.exportFromSqlite.resourcesPerSecond)} resources/s (${fmt(m.exportFromSqlite.resources)} resources)`,
  );
} finally {
  for (const c of cleanups) await c();
}
