// What observability costs on the hot path: the PDS read (token, RBAC, patient read, audit write)
// served by three `openspine serve` processes over one seeded SQLite store, differing only in
// observability: metrics off + tracing off (the baseline), metrics on, and metrics on + tracing on
// (sample ratio 1, every span exported as OTLP/HTTP JSON to a sink in this process;
// BENCH_OBS_TRACE_RATIO=0 measures tracing switched on with nothing sampled). Rounds alternate
// between the three (the order rotating each round) so machine drift falls on all alike; medians
// are reported, each beside the baseline, with the servers' CPU per request.
// Standalone: `node bench/observability.mjs` (bench/run.mjs imports observabilityBench()); it uses
// the built dist/ when present (`npm run bench` builds first), else the sources through tsx
// (BENCH_OBS_SOURCE=1 forces the sources).
import { randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cpuMs, freePort, load, startProcess, UNLIMITED, waitFor } from './lib.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const built =
  existsSync(join(ROOT, 'dist/src/observability/tracing.js')) && !process.env.BENCH_OBS_SOURCE;
const cliArgs = built
  ? [join(ROOT, 'bin', 'openspine.js')]
  : [
      '--import',
      'tsx',
      '-e',
      "import('./src/cli/main.ts').then((m) => m.main(process.argv.slice(1))).then((c) => { if (typeof c === 'number') process.exitCode = c; })",
    ];
const PDS = '/personal-demographics/FHIR/R4';
const PATIENTS = Number(process.env.BENCH_OBS_PATIENTS ?? 10_000);
const ROUNDS = Number(process.env.BENCH_OBS_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_OBS_SECONDS ?? 4);
const CONNECTIONS = Number(process.env.BENCH_OBS_CONNECTIONS ?? 10);
// 1 exports every request's spans; 0 leaves only the fixed cost of tracing being on (context propagation)
const TRACE_RATIO = process.env.BENCH_OBS_TRACE_RATIO ?? '1';
const fmt = (n, d = 0) =>
  Number(n).toLocaleString('en-GB', { maximumFractionDigits: d, minimumFractionDigits: d });
const pct = (ratio) => `${ratio >= 1 ? '+' : ''}${fmt((ratio - 1) * 100, 1)}%`;
const SCRAPE_TOKEN = `bench-${randomUUID()}`;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** An OTLP/HTTP traces endpoint that only counts what it is sent (spans, requests, bytes). */
async function startSpanSink() {
  const counts = { requests: 0, spans: 0, bytes: 0 };
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      counts.requests++;
      counts.bytes += body.length;
      try {
        for (const rs of JSON.parse(body.toString('utf8')).resourceSpans ?? [])
          for (const ss of rs.scopeSpans ?? []) counts.spans += ss.spans?.length ?? 0;
      } catch {
        /* not JSON: counted as a request only */
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}/v1/traces`,
    counts,
    close: () => new Promise((r) => server.close(r)),
  };
}

/** The environment of a server: observability as the variant says, nothing inherited. */
function envOf(overrides) {
  const env = { ...process.env };
  for (const k of [
    'OPENSPINE_METRICS',
    'OPENSPINE_OTLP_URL',
    'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
    'OPENSPINE_TRACE_SAMPLE_RATIO',
  ])
    delete env[k];
  return { ...env, OPENSPINE_METRICS_TOKEN: SCRAPE_TOKEN, ...overrides };
}

/** Patients to read: a random sample of the seeded store, restricted records left out. */
async function samplePatients(dataDir) {
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(join(dataDir, 'openspine.db'), { readonly: true });
  try {
    return db
      .prepare(
        `SELECT v.body FROM resources r JOIN resource_versions v ON v.rtype = r.rtype AND v.rid = r.rid AND v.version = r.version WHERE r.rtype = 'Patient' ORDER BY random() LIMIT 2000`,
      )
      .all()
      .map((r) => JSON.parse(r.body))
      .filter((p) => p.meta?.security?.[0]?.code !== 'R')
      .map((p) => p.id);
  } finally {
    db.close();
  }
}

export async function observabilityBench() {
  const loadAtStart = loadavg().map((l) => fmt(l, 1));
  const dataDir = mkdtempSync(join(tmpdir(), 'openspine-obs-bench-'));
  const sink = await startSpanSink();
  const servers = [];
  try {
    const cli = (args) =>
      execFileSync(process.execPath, [...cliArgs, ...args], { cwd: ROOT, encoding: 'utf8' });
    cli(['seed', '--data', dataDir, '--patients', String(PATIENTS), '--seed', '1']);
    const token = cli([
      'token',
      '--data',
      dataDir,
      '--role',
      'R8000',
      '--user',
      'bench',
      '--org',
      'A81001',
    ]).trim();
    const ids = await samplePatients(dataDir);
    const variants = [
      { key: 'off', label: 'metrics off, tracing off', env: { OPENSPINE_METRICS: 'off' } },
      { key: 'metrics', label: 'metrics on', env: { OPENSPINE_METRICS: 'on' } },
      {
        key: 'traced',
        label: `metrics on + tracing on (ratio ${TRACE_RATIO}, OTLP)`,
        env: {
          OPENSPINE_METRICS: 'on',
          OPENSPINE_OTLP_URL: sink.url,
          OPENSPINE_TRACE_SAMPLE_RATIO: TRACE_RATIO,
        },
      },
    ];
    for (const v of variants) {
      const port = await freePort();
      v.base = `http://127.0.0.1:${port}`;
      const args = ['serve', '--data', dataDir, '--port', String(port), '--host', '127.0.0.1'];
      v.server = startProcess([...cliArgs, ...args, '--log-level', 'warn', ...UNLIMITED], {
        cwd: ROOT,
        env: envOf(v.env),
      });
      servers.push(v.server);
      await waitFor(`${v.base}/_ping`);
      v.runs = [];
    }
    let i = 0;
    const rotating = (req) => ({
      ...req,
      path: `${PDS}/Patient/${ids[i++ % ids.length]}`,
      headers: { ...req.headers, authorization: `Bearer ${token}`, 'x-request-id': randomUUID() },
    });
    const run = async (v, duration) => {
      const cpuBefore = cpuMs(v.server.child.pid);
      const r = await load({
        url: v.base,
        duration,
        connections: CONNECTIONS,
        setupRequest: rotating,
      });
      const cpuAfter = cpuMs(v.server.child.pid);
      const ok = r.statuses[200] ?? 0;
      if (ok !== r.total || r.errors)
        throw new Error(`${v.label}: ${JSON.stringify(r.statuses)}, ${r.errors} errors`);
      r.cpuPerRequest = cpuBefore === null ? NaN : (cpuAfter - cpuBefore) / Math.max(1, r.total);
      return r;
    };
    // an uncounted warm-up each, so every server's JIT has settled before measuring
    for (const v of variants) await run(v, 2);
    for (let round = 0; round < ROUNDS; round++)
      for (let k = 0; k < variants.length; k++) {
        const v = variants[(round + k) % variants.length];
        v.runs.push(await run(v, SECONDS));
      }
    // each variant beside the baseline run of the same round (the neighbours in time), then the median
    const paired = (v, key) => median(v.runs.map((r, k) => r[key] / variants[0].runs[k][key]));
    const summary = variants.map((v) => ({
      ...v,
      rps: median(v.runs.map((r) => r.rps)),
      p95: median(v.runs.map((r) => r.p95)),
      cpu: median(v.runs.map((r) => r.cpuPerRequest)),
      rpsRatio: paired(v, 'rps'),
      p95Ratio: paired(v, 'p95'),
      cpuRatio: paired(v, 'cpuPerRequest'),
    }));
    const [base, metrics] = summary;
    const loadAtEnd = loadavg().map((l) => fmt(l, 1));
    console.log(
      `\nobservability  PDS read on SQLite (${fmt(PATIENTS)} patients), ${ROUNDS} alternating rounds of ${SECONDS} s per variant, ${CONNECTIONS} connections; medians (load average at start ${loadAtStart.join(' ')}, at end ${loadAtEnd.join(' ')})`,
    );
    for (const s of summary) {
      const vs =
        s === base
          ? '(baseline)'
          : `(vs baseline, paired by round: req/s ${fmt(s.rpsRatio, 3)}x ${pct(s.rpsRatio)}, p95 ${fmt(s.p95Ratio, 2)}x, CPU ${fmt(s.cpuRatio, 2)}x)`;
      console.log(
        `        ${s.label.padEnd(40)} ${fmt(s.rps)} req/s, p95 ${fmt(s.p95, 1)} ms, server CPU ${fmt(s.cpu, 3)} ms/request ${vs}`,
      );
    }
    const within = metrics.rpsRatio >= 0.97;
    console.log(
      `        metrics on within 3% of off: ${within ? 'yes' : 'NO'} (req/s ${pct(metrics.rpsRatio)}; round by round: ${metrics.runs.map((r, k) => pct(r.rps / base.runs[k].rps)).join(' ')})`,
    );
    // a sanity check that the metrics variants did collect: the requests their /metrics counted
    for (const v of variants.filter((x) => x.env.OPENSPINE_METRICS === 'on')) {
      const res = await fetch(`${v.base}/metrics`, {
        headers: { authorization: `Bearer ${SCRAPE_TOKEN}` },
      });
      const text = res.ok ? await res.text() : '';
      const counted = [...text.matchAll(/^openspine_http_requests_total\{[^}]*\} (\d+)/gm)].reduce(
        (n, m) => n + Number(m[1]),
        0,
      );
      console.log(
        `        ${v.label}: /metrics answered ${res.status}, openspine_http_requests_total ${fmt(counted)}`,
      );
    }
    console.log(
      `        spans the sink received: ${fmt(sink.counts.spans)} in ${fmt(sink.counts.requests)} OTLP requests (${fmt(sink.counts.bytes / 1e6, 1)} MB)`,
    );
    return summary;
  } finally {
    for (const s of servers) await s.stop();
    await sink.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await observabilityBench();
