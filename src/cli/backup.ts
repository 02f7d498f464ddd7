import { resolve } from 'node:path';
import { loadConfig, type Config, type Flags } from '../config.js';
import { failures, formatChecks } from '../backup/checks.js';
import { parseCommandLine } from './args.js';

const BACKUP_USAGE = `openspine backup --to DIR [--data DIR]
    an online copy of the embedded store (SQLite's backup API; a server may keep serving writes),
    its keys, and DIR/manifest.json (digests, row counts, audit head, newest signed checkpoint)
openspine backup --to DIR --store postgres --database-url URL [--database-schema S]
    the manifest only, to keep beside a pg_basebackup (see docs/operations.md)
openspine backup verify [--manifest FILE] [--store sqlite|postgres] [--data DIR | --database-url URL [--database-schema S]]
    checks a live or restored store: audit chain, newest signed checkpoint (the key in --data),
    and with a manifest: append-only tables hold at least its rows, the chain holds its head
Exit codes: 0 ok, 1 failed or refused, 2 usage.`;

const RESTORE_USAGE = `openspine restore --from DIR [--data DIR] [--force]
    verifies the backup in DIR (manifest digest, file digests, row counts, audit chain, signed
    checkpoint) and only then copies it into the data directory. A data directory holding files is
    refused unless --force, which moves them into a replaced-by-restore-<time> folder (never deleted).
    The server must be stopped. Exit codes: 0 ok, 1 refused or failed, 2 usage.`;

const STORE_OPTIONS = {
  data: { type: 'string' },
  store: { type: 'string' },
  'database-url': { type: 'string' },
  'database-schema': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The store flags as loadConfig reads them (--database-url alone means PostgreSQL), or a usage error. */
function storeConfig(values: Flags, usage: string): Config | undefined {
  const flags: Flags = { ...values };
  if (flags['database-url'] && !flags.store) flags.store = 'postgres';
  try {
    return loadConfig(flags);
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${usage}`);
    return undefined;
  }
}

function usageError(message: string, usage: string): number {
  console.error(`${message}\n\n${usage}`);
  return 2;
}

/** `openspine backup ...` and `openspine backup verify ...`; returns the exit code. */
export async function backupCommand(argv: string[]): Promise<number> {
  const parsed = parseCommandLine(
    argv,
    { ...STORE_OPTIONS, to: { type: 'string' }, manifest: { type: 'string' } },
    BACKUP_USAGE,
  );
  if (!parsed) return 2;
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(BACKUP_USAGE);
    return 0;
  }
  const sub = positionals[0];
  if (positionals.length > 1 || (sub !== undefined && sub !== 'verify'))
    return usageError(`unexpected '${positionals.join(' ')}'`, BACKUP_USAGE);
  const config = storeConfig(values as Flags, BACKUP_USAGE);
  if (!config) return 2;
  try {
    if (sub === 'verify') {
      if (values.to) return usageError('backup verify takes no --to', BACKUP_USAGE);
      const { verifyStore } = await import('../backup/verify-store.js');
      const checks = await verifyStore({
        ...config,
        manifestFile: values.manifest && resolve(values.manifest),
      });
      const ok = checks.every((c) => c.ok);
      console.log(formatChecks(checks));
      console[ok ? 'log' : 'error'](
        ok ? 'backup verify: ok' : `backup verify FAILED: ${failures(checks)}`,
      );
      return ok ? 0 : 1;
    }
    if (!values.to) return usageError('--to DIR is required', BACKUP_USAGE);
    if (values.manifest) return usageError('--manifest belongs to backup verify', BACKUP_USAGE);
    const to = resolve(values.to);
    const manifest =
      config.store === 'postgres'
        ? await (
            await import('../backup/postgres-manifest.js')
          ).postgresManifest({ databaseUrl: config.databaseUrl, schema: config.databaseSchema, to })
        : await (
            await import('../backup/sqlite-backup.js')
          ).backupSqlite({ dataDir: config.dataDir, to });
    const rows = Object.values(manifest.tables).reduce((a, b) => a + b, 0);
    console.log(
      `backup written to ${to}: ${manifest.store}, ${manifest.files.length} files, ${rows} rows in ${Object.keys(manifest.tables).length} tables, ` +
        `audit head ${manifest.auditHead.seq}, newest signed checkpoint ${manifest.checkpoint ? 'at entry ' + manifest.checkpoint.seq : 'none'}`,
    );
    return 0;
  } catch (err) {
    console.error(`backup failed: ${(err as Error).message}`);
    return 1;
  }
}

/** `openspine restore --from DIR [--data DIR] [--force]`; returns the exit code. */
export async function restoreCommand(argv: string[]): Promise<number> {
  const parsed = parseCommandLine(
    argv,
    { ...STORE_OPTIONS, from: { type: 'string' }, force: { type: 'boolean' } },
    RESTORE_USAGE,
  );
  if (!parsed) return 2;
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(RESTORE_USAGE);
    return 0;
  }
  if (positionals.length) return usageError(`unexpected '${positionals.join(' ')}'`, RESTORE_USAGE);
  if (!values.from) return usageError('--from DIR is required', RESTORE_USAGE);
  const config = storeConfig(values as Flags, RESTORE_USAGE);
  if (!config) return 2;
  if (config.store !== 'sqlite')
    return usageError(
      'restore puts an embedded-store backup into a data directory; a PostgreSQL backup is restored with PostgreSQL (docs/operations.md), then checked with `openspine backup verify --manifest`',
      RESTORE_USAGE,
    );
  const { restoreSqlite, RestoreRefused } = await import('../backup/restore.js');
  try {
    const result = await restoreSqlite({
      from: resolve(values.from),
      dataDir: config.dataDir,
      force: Boolean(values.force),
    });
    console.log(formatChecks(result.checks));
    if (result.setAside)
      console.log(`the data directory's previous files were moved to ${result.setAside}`);
    console.log(`restored into ${config.dataDir}`);
    return 0;
  } catch (err) {
    if (err instanceof RestoreRefused && err.checks.length) console.error(formatChecks(err.checks));
    const refused = err instanceof RestoreRefused;
    console.error(`restore ${refused ? 'refused' : 'failed'}: ${(err as Error).message}`);
    return 1;
  }
}
