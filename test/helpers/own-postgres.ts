/**
 * A PostgreSQL cluster of the test's own (initdb in a temp dir, on a free port), which the test can
 * stop and start again: the shared server at 127.0.0.1:5432 is never stopped by a test. initdb and
 * pg_ctl refuse to run as root, so as root they run as the `postgres` OS user (runuser).
 */
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The newest PostgreSQL server binaries installed the Debian way, or OPENSPINE_TEST_PG_BIN. */
function binDir(): string | undefined {
  if (process.env.OPENSPINE_TEST_PG_BIN) return process.env.OPENSPINE_TEST_PG_BIN;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : undefined;
}

async function osUid(name: string): Promise<number | undefined> {
  try {
    const { stdout } = await run('id', ['-u', name]);
    return Number(stdout.trim());
  } catch {
    return undefined;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

export class OwnPostgres {
  private constructor(
    private readonly bin: string,
    private readonly dir: string,
    readonly port: number,
    private readonly asPostgres: boolean,
  ) {}

  /** Why a private cluster cannot be made here, or undefined when it can. */
  static async unavailable(): Promise<string | undefined> {
    const bin = binDir();
    if (!bin) return 'no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql';
    if (userInfo().uid === 0 && (await osUid('postgres')) === undefined)
      return 'running as root and there is no postgres OS user to run initdb as';
    return undefined;
  }

  /** initdb and start; throws when that fails. */
  static async start(): Promise<OwnPostgres> {
    const bin = binDir()!;
    const dir = mkdtempSync(join(tmpdir(), 'openspine-pg-'));
    const asPostgres = userInfo().uid === 0;
    if (asPostgres) {
      const uid = (await osUid('postgres'))!;
      chownSync(dir, uid, -1);
    }
    const server = new OwnPostgres(bin, dir, await freePort(), asPostgres);
    await server.tool('initdb', [
      '-D',
      server.dataDir,
      '-A',
      'trust',
      '-U',
      'postgres',
      '--no-sync',
    ]);
    await server.resume();
    return server;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  private get dataDir(): string {
    return join(this.dir, 'data');
  }

  private async tool(name: string, args: string[]): Promise<void> {
    const path = join(this.bin, name);
    if (this.asPostgres) await run('runuser', ['-u', 'postgres', '--', path, ...args]);
    else await run(path, args);
  }

  /** Starts the cluster (again) on the same port and waits until it takes connections. */
  async resume(): Promise<void> {
    const options = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
    await this.tool('pg_ctl', [
      '-D',
      this.dataDir,
      '-o',
      options,
      '-l',
      join(this.dir, 'log'),
      '-w',
      'start',
    ]);
  }

  /** Stops the cluster, cutting every client connection (fast shutdown). */
  async pause(): Promise<void> {
    await this.tool('pg_ctl', ['-D', this.dataDir, '-m', 'fast', '-w', 'stop']);
  }

  /** The server's processes (postmaster and its children), to freeze it without closing a socket. */
  private async pids(): Promise<number[]> {
    const postmaster = Number(
      readFileSync(join(this.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0],
    );
    const { stdout } = await run('pgrep', ['-P', String(postmaster)]).catch(() => ({ stdout: '' }));
    return [postmaster, ...stdout.split('\n').filter(Boolean).map(Number)];
  }

  /** Stops every server process (SIGSTOP): connections stay open and nothing answers (a hung server). */
  async freeze(): Promise<void> {
    for (const pid of await this.pids()) process.kill(pid, 'SIGSTOP');
  }

  async thaw(): Promise<void> {
    for (const pid of await this.pids()) process.kill(pid, 'SIGCONT');
  }

  async close(): Promise<void> {
    await this.tool('pg_ctl', ['-D', this.dataDir, '-m', 'immediate', '-w', 'stop']).catch(
      () => {},
    );
    rmSync(this.dir, { recursive: true, force: true });
  }
}
