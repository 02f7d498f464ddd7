import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join, relative, resolve, sep } from 'node:path';
import { sqliteFileOf } from '../store/open.js';

/** The embedded store's database file name inside a data directory (openspine.db). */
export const DB_NAME = basename(sqliteFileOf({ store: 'sqlite', dataDir: '.' })!);

/** The database and its side files: never copied file by file (the backup API copies the database). */
export const SQLITE_FILES = [DB_NAME, `${DB_NAME}-wal`, `${DB_NAME}-shm`, `${DB_NAME}-journal`];

/** Where a forced restore moves the files it replaces (they are never deleted). */
export const SET_ASIDE_PREFIX = 'replaced-by-restore-';

/**
 * The files of a data directory a backup copies besides the database: the signing keys under keys/
 * (current, next and retired) and any other key material kept there (e.g. the SUS pseudonym key),
 * as '/'-separated names.
 * Earlier set-aside folders and `skip` (a backup folder made inside the data dir) are left out.
 */
export function dataFilesBesideDb(dataDir: string, skip?: string): string[] {
  const out: string[] = [];
  const skipAbs = skip ? resolve(skip) : undefined;
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (dir === dataDir && (SQLITE_FILES.includes(name) || name.startsWith(SET_ASIDE_PREFIX)))
        continue;
      if (skipAbs && resolve(path) === skipAbs) continue;
      // a lock or a half-written temp file of a key change in progress is not part of the state
      if (/\.(lock|tmp|restoring)$/.test(name)) continue;
      const stat = statSync(path);
      if (stat.isDirectory()) walk(path);
      else if (stat.isFile()) out.push(relative(dataDir, path).split(sep).join('/'));
    }
  };
  walk(dataDir);
  return out;
}

/** The entries of a directory that matter to a restore (set-aside folders of earlier restores do not). */
export function occupiedEntries(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((name) => !name.startsWith(SET_ASIDE_PREFIX));
}
