import Database from 'better-sqlite3';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  renameSync,
  statSync,
} from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { failures, type Check } from './checks.js';
import { DB_NAME, SET_ASIDE_PREFIX, occupiedEntries } from './data-files.js';
import { digestFile } from './manifest.js';
import { verifyBackupCopy } from './verify-copy.js';

export class RestoreRefused extends Error {
  constructor(
    message: string,
    readonly checks: Check[] = [],
  ) {
    super(message);
  }
}

/** Throws when a process (a running server) has the target's database open. */
function requireStoreClosed(dataDir: string): void {
  const file = join(dataDir, DB_NAME);
  if (!existsSync(file)) return;
  const db = new Database(file, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 0');
    // an exclusive lock is refused while any other connection (a server) has the database open
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
    db.exec('COMMIT');
  } catch (err) {
    // a file that is not a database (or a damaged one) is simply moved aside with the rest
    const code = (err as { code?: string }).code;
    if (code !== 'SQLITE_BUSY' && code !== 'SQLITE_LOCKED') return;
    throw new RestoreRefused(
      `${file} is in use by another process (a running server?): stop it before restoring`,
    );
  } finally {
    db.close();
  }
}

/** Moves every entry of the data dir into a new set-aside folder beside them; returns its path. */
function setAside(dataDir: string, entries: string[]): string {
  const aside = join(dataDir, SET_ASIDE_PREFIX + new Date().toISOString().replace(/[:.]/g, '-'));
  mkdirSync(aside);
  for (const name of entries) renameSync(join(dataDir, name), join(aside, name));
  return aside;
}

/** Copies one file in beside its place, checks its digest, makes it durable, then renames it in. */
async function placeFile(from: string, to: string, sha256: string): Promise<void> {
  mkdirSync(dirname(to), { recursive: true });
  const temp = `${to}.restoring`;
  copyFileSync(from, temp);
  chmodSync(temp, statSync(from).mode & 0o777);
  const fd = openSync(temp, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  if ((await digestFile(temp)).sha256 !== sha256)
    throw new Error(`${temp} does not match the manifest after copying (disk error?)`);
  renameSync(temp, to);
}

/**
 * Restores an embedded-store backup into a data directory. The copy is verified first (see
 * verifyBackupCopy) and nothing is touched unless all of it holds. A target holding anything is
 * refused unless `force`, and then its entries are moved into a set-aside folder, never deleted
 * (the WAL of the replaced store with them: left beside the new file it would be replayed into it).
 */
export async function restoreSqlite(opts: {
  from: string;
  dataDir: string;
  force: boolean;
}): Promise<{ checks: Check[]; setAside?: string }> {
  const inside = relative(resolve(opts.dataDir), resolve(opts.from));
  if (!inside.startsWith('..') && !isAbsolute(inside))
    throw new RestoreRefused(
      `the backup ${opts.from} is inside the data directory ${opts.dataDir}: move it out first`,
    );
  const occupied = occupiedEntries(opts.dataDir);
  if (occupied.length && !opts.force)
    throw new RestoreRefused(
      `${opts.dataDir} is not empty (${occupied.join(', ')}): restore into an empty directory, or pass --force to move its files aside`,
    );
  const { manifest, checks } = await verifyBackupCopy(opts.from);
  if (!manifest || checks.some((c) => !c.ok))
    throw new RestoreRefused(
      `the backup in ${opts.from} did not verify: ${failures(checks)}`,
      checks,
    );
  if (occupied.length) requireStoreClosed(opts.dataDir);
  mkdirSync(opts.dataDir, { recursive: true });
  const aside = occupied.length ? setAside(opts.dataDir, occupied) : undefined;
  // the database last: a restore cut short leaves no database beside keys that may not match it
  const ordered = [...manifest.files].sort(
    (a, b) => Number(a.name === DB_NAME) - Number(b.name === DB_NAME),
  );
  for (const f of ordered)
    await placeFile(join(opts.from, f.name), join(opts.dataDir, f.name), f.sha256);
  return { checks, setAside: aside };
}
