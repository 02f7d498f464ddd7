import Database from 'better-sqlite3';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { sqliteCensus } from './census.js';
import { DB_NAME, dataFilesBesideDb } from './data-files.js';
import {
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  digestFile,
  openspineVersion,
  sealManifest,
  writeManifest,
  type BackupFile,
  type BackupManifest,
} from './manifest.js';

/** The backup directory must be new or empty: a backup is never written over another. */
export function requireEmptyBackupDir(to: string): void {
  if (existsSync(to)) {
    if (!statSync(to).isDirectory()) throw new Error(`${to} is a file, not a directory`);
    const present = readdirSync(to);
    if (present.length)
      throw new Error(
        `${to} is not empty (${present.slice(0, 3).join(', ')}${present.length > 3 ? ', …' : ''}): a backup goes to a new or empty directory`,
      );
  }
  mkdirSync(to, { recursive: true });
}

/**
 * An online backup of the embedded store while a server may keep writing to it: SQLite's backup
 * API, from a read connection of this process, copies one consistent snapshot (a WAL reader never
 * blocks the server's writer). The whole copy is taken in one step: in steps, every write of the
 * server between two steps would restart it. Then the key files are copied (after the database, so
 * a key added meanwhile is included), every file digested, and the manifest written last.
 */
export async function backupSqlite(opts: { dataDir: string; to: string }): Promise<BackupManifest> {
  const source = join(opts.dataDir, DB_NAME);
  if (!existsSync(source))
    throw new Error(`${source} does not exist: no embedded store to back up`);
  requireEmptyBackupDir(opts.to);
  const copy = join(opts.to, DB_NAME);
  const live = new Database(source, { readonly: true, fileMustExist: true });
  try {
    live.pragma('busy_timeout = 5000');
    await live.backup(copy, { progress: () => 0x7fffffff });
  } finally {
    live.close();
  }

  // the copy becomes one self-contained file (no WAL beside it), then it is counted
  const copied = new Database(copy, { fileMustExist: true });
  let census;
  try {
    copied.pragma('journal_mode = DELETE');
    census = sqliteCensus(copied);
  } finally {
    copied.close();
  }

  const names = dataFilesBesideDb(opts.dataDir, opts.to);
  for (const name of names) {
    const target = join(opts.to, name);
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(join(opts.dataDir, name), target);
    chmodSync(target, statSync(join(opts.dataDir, name)).mode & 0o777);
  }
  const files: BackupFile[] = [];
  for (const name of [DB_NAME, ...names])
    files.push({ name, ...(await digestFile(join(opts.to, name))) });

  const manifest = sealManifest({
    format: MANIFEST_FORMAT,
    formatVersion: MANIFEST_VERSION,
    createdAt: new Date().toISOString(),
    store: 'sqlite',
    openspineVersion: openspineVersion(),
    files,
    ...census,
  });
  writeManifest(opts.to, manifest);
  return manifest;
}
