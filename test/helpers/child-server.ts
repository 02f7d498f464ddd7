/**
 * Runs the `openspine` CLI (and other TypeScript entry points) in child processes, straight from
 * src/ through tsx, so tests exercise the real program: its flags, its exit codes, and what a real
 * process leaves on disk when it is killed. Every child is tracked; killAllChildren() (call it in
 * an after hook) and a process-exit safety net make sure none outlives the test run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI_MAIN = pathToFileURL(join(REPO_ROOT, 'src/cli/main.ts')).href;

/** The store a child should use; matches isolatedStoreConfig(kind).config. */
export interface StoreTarget {
  store: 'sqlite' | 'postgres';
  dataDir: string;
  databaseUrl: string;
  databaseSchema: string;
}

/** The CLI flags that point a command at a store (the data dir always: it holds the signing key). */
export function storeFlags(t: StoreTarget): string[] {
  const flags = ['--data', t.dataDir, '--store', t.store];
  if (t.store === 'postgres')
    flags.push('--database-url', t.databaseUrl, '--database-schema', t.databaseSchema);
  return flags;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** The environment of a child without any OpenSpine configuration leaking in from the test's own. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('OPENSPINE_') || k === 'PORT' || k === 'DATABASE_URL' || k === 'LOG_LEVEL')
      continue;
    env[k] = v;
  }
  return env;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface TrackedChild {
  child: ChildProcess;
  /** Everything written so far. */
  stdout(): string;
  stderr(): string;
  /** Settles when the process has exited (never rejects). */
  exited: Promise<Exit>;
}

/** Spawns `node --import tsx -e <code> ...args` in the repository root and tracks it. */
export function spawnTsx(code: string, args: string[]): TrackedChild {
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', code, ...args], {
    cwd: REPO_ROOT, // `--import tsx` resolves from here
    env: childEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let out = '',
    err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  const exited = new Promise<Exit>((resolve) => {
    child.once('error', () => {
      live.delete(child);
      resolve({ code: null, signal: null });
    });
    child.once('close', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
  });
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** `openspine ...args` as a child process, exactly as bin/openspine.js runs main(), but from src/. */
export function spawnCli(args: string[]): TrackedChild {
  const code =
    `import(${JSON.stringify(CLI_MAIN)}).then((m) => m.main(process.argv.slice(1))).then(` +
    `(c) => { if (typeof c === 'number') process.exitCode = c; },` +
    `(e) => { console.error(e instanceof Error ? e.message : e); process.exitCode = 1; })`;
  return spawnTsx(code, args);
}

export interface CliResult extends Exit {
  stdout: string;
  stderr: string;
}

/** Runs a CLI command to completion (killing it after timeoutMs). */
export async function runCli(args: string[], timeoutMs = 60_000): Promise<CliResult> {
  const run = spawnCli(args);
  const timer = setTimeout(() => run.child.kill('SIGKILL'), timeoutMs);
  const exit = await run.exited;
  clearTimeout(timer);
  return { ...exit, stdout: run.stdout(), stderr: run.stderr() };
}

export interface ChildServer {
  /** e.g. http://127.0.0.1:41234 */
  url: string;
  child: ChildProcess;
  exited: Promise<Exit>;
  stdout(): string;
  stderr(): string;
  /** Sends the signal (SIGKILL by default) and waits for the process to be gone. */
  kill(signal?: NodeJS.Signals): Promise<Exit>;
}

/**
 * `openspine serve` on the store, on a port the kernel picks (--port 0), host 127.0.0.1. The URL is
 * taken from Fastify's "Server listening at" log line; resolves once GET /_ping answers 200.
 */
export async function startChildServer(
  target: StoreTarget,
  extraArgs: string[] = [],
  timeoutMs = 30_000,
): Promise<ChildServer> {
  const run = spawnCli([
    'serve',
    ...storeFlags(target),
    '--host',
    '127.0.0.1',
    '--port',
    '0',
    '--log-level',
    'info',
    ...extraArgs,
  ]);
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill(signal);
    return run.exited;
  };
  const deadline = Date.now() + timeoutMs;
  let exit: Exit | undefined;
  void run.exited.then((e) => {
    exit = e;
  });
  const fail = async (why: string): Promise<never> => {
    await kill();
    throw new Error(
      `openspine serve ${why}\nstdout:\n${run.stdout().slice(-2000)}\nstderr:\n${run.stderr().slice(-2000)}`,
    );
  };
  let url: string | undefined;
  while (!url) {
    if (exit) return fail(`exited early (code ${exit.code}, signal ${exit.signal})`);
    if (Date.now() > deadline) return fail('did not report its address in time');
    url = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(run.stdout())?.[1];
    if (!url) await new Promise((r) => setTimeout(r, 25));
  }
  for (;;) {
    if (exit) return fail(`exited early (code ${exit.code}, signal ${exit.signal})`);
    if (Date.now() > deadline) return fail('did not answer /_ping in time');
    const ok = await fetch(url + '/_ping').then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    url,
    child: run.child,
    exited: run.exited,
    stdout: run.stdout,
    stderr: run.stderr,
    kill,
  };
}

/** SIGKILLs every child still running and waits for them to go (for after hooks). */
export async function killAllChildren(): Promise<void> {
  const waits = [...live].map(
    (child) =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('close', () => resolve());
        child.kill('SIGKILL');
      }),
  );
  await Promise.all(waits);
}

export const PDS_PATH = '/personal-demographics/FHIR/R4';

export interface FhirResponse {
  status: number;
  /** The version from the ETag W/"n", when there is one. */
  version: number | undefined;
  body: any;
  requestId: string;
}

/**
 * One PDS request over real HTTP with a fresh X-Request-ID (or the one given) and a bearer token.
 * A PATCH body is sent as {"patches": ops} with application/json-patch+json and If-Match W/"ifMatch".
 */
export async function pdsRequest(
  baseUrl: string,
  token: string,
  opts: {
    method?: 'GET' | 'PATCH';
    path: string;
    patches?: unknown[];
    ifMatch?: number;
    requestId?: string;
    timeoutMs?: number;
  },
): Promise<FhirResponse> {
  const requestId = opts.requestId ?? crypto.randomUUID();
  const headers: Record<string, string> = {
    'x-request-id': requestId,
    authorization: `Bearer ${token}`,
  };
  let body: string | undefined;
  if (opts.patches) {
    headers['content-type'] = 'application/json-patch+json';
    body = JSON.stringify({ patches: opts.patches });
  }
  if (opts.ifMatch !== undefined) headers['if-match'] = `W/"${opts.ifMatch}"`;
  const res = await fetch(baseUrl + PDS_PATH + opts.path, {
    method: opts.method ?? (opts.patches ? 'PATCH' : 'GET'),
    headers,
    body,
    signal: AbortSignal.timeout(opts.timeoutMs ?? 20_000),
  });
  const text = await res.text();
  const etag = /^W\/"(\d+)"$/.exec(res.headers.get('etag') ?? '');
  return {
    status: res.status,
    version: etag ? Number(etag[1]) : undefined,
    body: text ? JSON.parse(text) : undefined,
    requestId,
  };
}

/** The Spine error code of an OperationOutcome body. */
export function spineCodeOf(body: any): string | undefined {
  return body?.issue?.[0]?.details?.coding?.[0]?.code;
}
