/**
 * The deployment files under deploy/ are usable as they are: every metric the alert rules and the
 * Grafana dashboard query is exposed by a real platform's GET /metrics, every alert links to a
 * section of docs/operations.md that exists, every flag and environment variable the systemd units
 * and env files set is one the CLI and src/config.ts know, and the unit lets a node finish its drain
 * before systemd kills it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../src/config.js';
import { main } from '../src/cli/main.js';
import { REPO_ROOT } from './helpers/child-server.js';
import { startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest, type StoreKind } from './helpers/stores.js';

const stores = await storesUnderTest();
const read = (path: string) => readFileSync(join(REPO_ROOT, path), 'utf8');
const SCRAPE_TOKEN = 'deploy-test-scrape-token';

// ---------------------------------------------------------------------------------------------
// PromQL: the metric names an expression selects

const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'offset',
  'bool',
  'inf',
  'nan',
]);
/** Series Prometheus makes itself for every target (not exposed by /metrics). */
const PROMETHEUS_SERIES = new Set(['up']);

/**
 * The metric names in a PromQL expression: strings, label matchers, range durations and grouping
 * clauses removed, then every identifier that is not a function call or a keyword.
 */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const rest = stripped.slice(m.index! + m[0].length);
    if (/^\s*\(/.test(rest)) continue; // a function (sum, rate, histogram_quantile, label_replace...)
    if (KEYWORDS.has(m[0].toLowerCase())) continue;
    if (/[\d.]$/.test(stripped.slice(0, m.index!))) continue; // the exponent of a number (1e3)
    names.add(m[0]);
  }
  return [...names];
}

/** `# TYPE name type` lines of a text exposition. */
function exposedTypes(text: string): Map<string, string> {
  const types = new Map<string, string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) types.set(m[1], m[2]);
  return types;
}

/** Whether a queried name is exposed: itself, or a histogram's _bucket/_sum/_count series. */
function isExposed(name: string, types: Map<string, string>): boolean {
  if (types.has(name)) return true;
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  return !!m && (types.get(m[1]) === 'histogram' || types.get(m[1]) === 'summary');
}

// ---------------------------------------------------------------------------------------------
// the files

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const alertRules = (): AlertRule[] =>
  (
    parseYaml(read('deploy/prometheus/alerts.yml')) as { groups: { rules: AlertRule[] }[] }
  ).groups.flatMap((g) => g.rules);

interface Panel {
  type: string;
  title: string;
  targets?: { expr: string }[];
  panels?: Panel[];
}
const dashboard = () =>
  JSON.parse(read('deploy/grafana/openspine-dashboard.json')) as {
    schemaVersion: number;
    panels: Panel[];
    templating: { list: { query?: string | { query: string } }[] };
  };
const dashboardExprs = (): { where: string; expr: string }[] => {
  const d = dashboard();
  const panels = d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
  const fromPanels = panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({ where: `panel '${p.title}'`, expr: t.expr })),
  );
  const fromVariables = d.templating.list.flatMap((v) => {
    const q = typeof v.query === 'object' ? v.query.query : v.query;
    const m = q ? /^label_values\((.*),\s*\w+\)$/.exec(q) : null;
    return m ? [{ where: 'a dashboard variable', expr: m[1] }] : [];
  });
  return [...fromPanels, ...fromVariables];
};

/** A systemd unit as sections of (key, value) pairs, in order (keys may repeat). */
function parseUnit(text: string): Map<string, [string, string][]> {
  const sections = new Map<string, [string, string][]>();
  let current: [string, string][] | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = [];
      sections.set(section[1], current);
      continue;
    }
    const eq = line.indexOf('=');
    assert.ok(current && eq > 0, `not a unit line: ${line}`);
    current.push([line.slice(0, eq).trim(), line.slice(eq + 1).trim()]);
  }
  return sections;
}
const unitValue = (unit: Map<string, [string, string][]>, section: string, key: string) =>
  unit
    .get(section)
    ?.filter(([k]) => k === key)
    .map(([, v]) => v);

/** KEY=value lines of an env file. */
function parseEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    assert.ok(m, `not an env line: ${line}`);
    env[m[1]] = m[2];
  }
  return env;
}

const ENV_FILES = [
  'deploy/systemd/openspine.env.example',
  'deploy/multi-node/node-a.env',
  'deploy/multi-node/node-b.env',
];
const OPENSPINE_UNIT = 'deploy/systemd/openspine.service';

/** `openspine <args> --help` parses the flags strictly (unknown flag: throws) and prints the usage. */
async function cliAccepts(args: string[]): Promise<boolean> {
  const log = console.log;
  console.log = () => {};
  try {
    return (await main([...args, '--help'])) === 0;
  } catch {
    return false;
  } finally {
    console.log = log;
  }
}

/** The `serve` arguments of the unit's ExecStart. */
function serveArgs(unit: Map<string, [string, string][]>): string[] {
  const exec = unitValue(unit, 'Service', 'ExecStart')![0].split(/\s+/);
  const serve = exec.indexOf('serve');
  assert.ok(serve > 0, 'ExecStart runs serve');
  return exec.slice(serve);
}

/** Flags given as --name value pairs. */
function flagsOf(args: string[]): Record<string, string> {
  const flags: Record<string, string> = {};
  for (let i = 0; i < args.length; i++)
    if (args[i].startsWith('--')) flags[args[i].slice(2)] = args[++i];
  return flags;
}

// ---------------------------------------------------------------------------------------------

describe('deploy/: PromQL uses only exposed metrics', () => {
  const platforms: { kind: StoreKind; platform: TestPlatform; types: Map<string, string> }[] = [];
  before(async () => {
    for (const kind of stores) {
      const platform = await startTestPlatform(kind, {
        config: { metrics: { enabled: true, scrapeToken: SCRAPE_TOKEN } },
      });
      const res = await platform.app.inject({
        url: '/metrics',
        headers: { authorization: `Bearer ${SCRAPE_TOKEN}` },
      });
      assert.equal(res.statusCode, 200, `GET /metrics with the scrape token: ${res.body}`);
      platforms.push({ kind, platform, types: exposedTypes(res.body) });
    }
  });
  after(async () => {
    for (const { platform } of platforms) await platform.close();
  });

  it('extracts metric names from PromQL', () => {
    assert.deepEqual(
      metricNames(
        'histogram_quantile(0.95, sum by (le, route) (rate(openspine_http_request_duration_seconds_bucket{route=~"/a(/.*)?", le="0.5"}[5m]))) > 2 and on (instance) up == 1 or vector(1e3)',
      ).sort(),
      ['openspine_http_request_duration_seconds_bucket', 'up'],
    );
    assert.deepEqual(
      metricNames(
        'sum by (api) (label_replace(rate(x_total[1h]), "api", "$1", "route", "/([^/]+).*")) / ignoring (le) y',
      ).sort(),
      ['x_total', 'y'],
    );
  });

  it('every metric the alert rules and the dashboard query is exposed by GET /metrics', () => {
    const union = new Map<string, string>();
    for (const { types } of platforms) for (const [k, v] of types) union.set(k, v);
    const queries = [
      ...alertRules().map((r) => ({ where: `alert ${r.alert}`, expr: r.expr })),
      ...dashboardExprs(),
    ];
    assert.ok(queries.length > 40, `${queries.length} expressions found`);
    const missing: string[] = [];
    let checked = 0;
    for (const { where, expr } of queries) {
      const names = metricNames(expr);
      assert.ok(names.length > 0, `${where} queries no metric: ${expr}`);
      for (const name of names) {
        if (PROMETHEUS_SERIES.has(name) && where.startsWith('alert')) continue;
        // PostgreSQL's pool exists only on PostgreSQL: counted when a PostgreSQL platform was scraped
        if (name === 'openspine_pg_pool_connections' && !stores.includes('postgres')) continue;
        checked++;
        if (!isExposed(name, union)) missing.push(`${name} (${where})`);
      }
    }
    assert.deepEqual(missing, [], 'queried but not exposed by /metrics');
    assert.ok(checked > 50, `${checked} names checked`);
  });
});

describe('deploy/: alert rules and Prometheus configuration', () => {
  it('every alert has a severity, a summary and a runbook_url to a heading of docs/operations.md', () => {
    const anchors = new Set(
      read('docs/operations.md')
        .split('\n')
        .filter((l) => /^#{1,6} /.test(l))
        .map((l) =>
          l
            .replace(/^#+ /, '')
            .trim()
            .toLowerCase()
            .replace(/[^\p{L}\p{N} _-]/gu, '')
            .replace(/ /g, '-'),
        ),
    );
    const rules = alertRules();
    assert.ok(rules.length >= 8);
    for (const rule of rules) {
      assert.ok(['critical', 'warning'].includes(rule.labels?.severity ?? ''), rule.alert);
      assert.ok((rule.annotations?.summary ?? '').length > 10, `${rule.alert} has a summary`);
      const url = rule.annotations?.runbook_url ?? '';
      const anchor = /#([^#]+)$/.exec(url)?.[1];
      assert.ok(url.includes('docs/operations.md#') && anchor, `${rule.alert}: ${url}`);
      assert.ok(anchors.has(anchor), `${rule.alert}: no heading #${anchor} in docs/operations.md`);
    }
    // the catalogue's operational signals each have an alert
    const exprs = rules.map((r) => r.expr).join('\n');
    for (const name of [
      'openspine_http_requests_total',
      'openspine_http_request_duration_seconds_bucket',
      'openspine_outbox_relay_lag_seconds',
      'openspine_bus_dead_letters',
      'openspine_audit_checkpoint_age_seconds',
      'openspine_data_disk_free_bytes',
      'openspine_ready',
      'nodejs_eventloop_lag_p99_seconds',
    ])
      assert.ok(exprs.includes(name), `an alert on ${name}`);
  });

  it('prometheus.yml scrapes /metrics with the scrape token from a file and loads the rules', () => {
    const config = parseYaml(read('deploy/prometheus/prometheus.yml')) as {
      rule_files: string[];
      scrape_configs: {
        job_name: string;
        metrics_path?: string;
        authorization?: { type?: string; credentials_file?: string; credentials?: string };
        static_configs: { targets: string[] }[];
      }[];
    };
    const job = config.scrape_configs.find((j) => j.job_name === 'openspine');
    assert.ok(job);
    assert.equal(job.metrics_path, '/metrics');
    assert.equal(job.authorization?.type ?? 'Bearer', 'Bearer');
    assert.ok(job.authorization?.credentials_file, 'the token comes from a file');
    assert.equal(job.authorization?.credentials, undefined, 'no token in the file itself');
    assert.ok(job.static_configs[0].targets.length >= 2);
    assert.ok(config.rule_files.some((f) => f.endsWith('.yml')));
    // the alerts' `up{job="openspine"}` names this job
    assert.match(read('deploy/prometheus/alerts.yml'), /up\{job="openspine"\}/);
  });

  it('promtool accepts the rules (when promtool is installed)', (t) => {
    const run = spawnSync('promtool', ['check', 'rules', 'deploy/prometheus/alerts.yml'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    if (run.error) return t.skip('promtool is not installed');
    assert.equal(run.status, 0, run.stdout + run.stderr);
  });

  it('the dashboard is a schemaVersion 39 Grafana dashboard with a PromQL target on every panel', () => {
    const d = dashboard();
    assert.equal(d.schemaVersion, 39);
    const panels = d.panels.filter((p) => p.type !== 'row');
    assert.ok(panels.length >= 25);
    for (const p of panels) assert.ok(p.targets?.length && p.targets.every((t) => t.expr), p.title);
    const all = dashboardExprs()
      .map((e) => e.expr)
      .join('\n');
    for (const name of [
      'openspine_http_requests_total',
      'openspine_http_request_duration_seconds_bucket',
      'openspine_store_commit_duration_seconds_bucket',
      'openspine_store_group_commit_queue',
      'openspine_outbox_depth',
      'openspine_outbox_relay_lag_seconds',
      'openspine_bus_consumer_lag_messages',
      'openspine_bus_dead_letters',
      'openspine_audit_chain_length',
      'openspine_audit_checkpoint_age_seconds',
      'openspine_signin_failures_total',
      'openspine_signin_lockouts_total',
      'openspine_break_glass_total',
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_heap_size_used_bytes',
      'nodejs_gc_duration_seconds_sum',
      'openspine_pg_pool_connections',
      'openspine_data_disk_free_bytes',
    ])
      assert.ok(all.includes(name), `the dashboard shows ${name}`);
    for (const q of ['0.5', '0.95', '0.99'])
      assert.ok(all.includes(`histogram_quantile(${q}, sum by (le, route)`), `p${q} per route`);
  });
});

describe('deploy/: systemd units and env files', () => {
  it('the node unit: node serve with the env file, restart on failure, SIGTERM, own user, hardened', async () => {
    const unit = parseUnit(read(OPENSPINE_UNIT));
    const one = (key: string) => unitValue(unit, 'Service', key)?.[0];
    assert.match(one('ExecStart')!, /^\/usr\/bin\/node \/opt\/openspine\/bin\/openspine\.js serve/);
    assert.equal(one('EnvironmentFile'), '/etc/openspine/openspine.env');
    assert.equal(one('Restart'), 'on-failure');
    assert.equal(one('KillSignal'), 'SIGTERM');
    assert.ok(one('User') && one('User') !== 'root');
    assert.equal(one('NoNewPrivileges'), 'yes');
    assert.equal(one('ProtectSystem'), 'strict');
    assert.equal(one('PrivateTmp'), 'yes');
    const dataDir = flagsOf(serveArgs(unit)).data;
    assert.ok(dataDir, 'ExecStart names the data directory');
    assert.ok(
      unitValue(unit, 'Service', 'ReadWritePaths')!.some((v) => v.split(/\s+/).includes(dataDir)),
      'the data directory is writable under ProtectSystem=strict',
    );
    assert.ok(await cliAccepts(serveArgs(unit)), `openspine accepts ${serveArgs(unit).join(' ')}`);
  });

  it('TimeoutStopSec exceeds the drain (delay + seconds) of every env file', () => {
    const unit = parseUnit(read(OPENSPINE_UNIT));
    const timeout = Number(unitValue(unit, 'Service', 'TimeoutStopSec')![0]);
    assert.ok(Number.isFinite(timeout), 'TimeoutStopSec in seconds');
    for (const file of ENV_FILES) {
      // as the node reads them: the unit's flags over the env file (src/config.ts)
      const config = loadConfig(flagsOf(serveArgs(unit).slice(1)), parseEnv(read(file)));
      const drain = config.drainDelaySeconds + config.drainSeconds;
      assert.ok(drain > 0);
      assert.ok(timeout > drain, `${file}: TimeoutStopSec ${timeout} <= drain ${drain} s`);
    }
  });

  it('every variable of the env files is read by src/config.ts and every value is valid', () => {
    const source = read('src/config.ts');
    for (const file of ENV_FILES) {
      const env = parseEnv(read(file));
      assert.ok(Object.keys(env).length >= 8, file);
      for (const key of Object.keys(env))
        assert.match(source, new RegExp(`\\benv\\.${key}\\b`), `${file}: ${key} is not read`);
      const config = loadConfig({}, env); // throws on a malformed value
      assert.equal(config.store, 'postgres');
      assert.equal(config.messaging, 'nats');
      assert.ok(config.metrics.scrapeToken);
    }
    const a = loadConfig({}, parseEnv(read('deploy/multi-node/node-a.env')));
    const b = loadConfig({}, parseEnv(read('deploy/multi-node/node-b.env')));
    assert.notEqual(a.nodeId, b.nodeId, 'each node has its own --node-id');
    assert.equal(a.databaseUrl, b.databaseUrl);
  });

  it('every --flag the deploy files mention is an option of the openspine CLI', async () => {
    // the env files' comments name the equivalent flags; the unit's flags are on its ExecStart
    const texts = [...ENV_FILES.map(read), serveArgs(parseUnit(read(OPENSPINE_UNIT))).join(' ')];
    const names = [
      ...new Set(texts.flatMap((t) => [...t.matchAll(/--([a-z][a-z-]+)/g)].map((m) => m[1]))),
    ];
    assert.ok(names.includes('node-id') && names.includes('nats-url'), names.join(' '));
    for (const name of names) {
      const args = ['serve', `--${name}`, ...(name === 'demo' ? [] : ['x'])];
      assert.ok(await cliAccepts(args), `openspine serve does not know --${name}`);
    }
  });

  it('the NATS unit runs nats-server with the config; the config has JetStream and a three-server cluster', (t) => {
    const unit = parseUnit(read('deploy/systemd/nats.service'));
    const exec = unitValue(unit, 'Service', 'ExecStart')![0];
    assert.match(exec, /nats-server -c \/etc\/nats\/nats\.conf$/);
    const dir = unitValue(unit, 'Service', 'ReadWritePaths')![0];
    const conf = read('deploy/nats/nats.conf');
    assert.match(conf, /jetstream \{[^}]*store_dir: (\S+)/);
    assert.ok(conf.includes(`store_dir: ${dir}/`), 'the JetStream store is in the writable dir');
    const routes = /routes: \[([^\]]*)\]/.exec(conf)?.[1].trim().split(/\s+/);
    assert.equal(routes?.length, 3);
    const check = spawnSync('nats-server', ['-t', '-c', 'deploy/nats/nats.conf'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: { ...process.env, NATS_SERVER_NAME: 'deploy-test' },
    });
    if (check.error) return t.skip('nats-server is not installed');
    assert.equal(check.status, 0, check.stdout + check.stderr);
  });
});
