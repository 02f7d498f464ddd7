import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { auditChecks, failed, passed, rowCountChecks, type Check } from './checks.js';
import { GROW_ONLY_TABLES, sqliteCensus } from './census.js';
import { DB_NAME } from './data-files.js';
import { MANIFEST_FILE, digestFile, readManifest, type BackupManifest } from './manifest.js';
import { publicKeysIn } from './signing-keys.js';
import { openSqliteReadOnly } from './sqlite-reader.js';

/** A manifest's file name must stay inside the backup (and the data dir it is restored into). */
const SAFE_NAME = /^(?!.*(^|\/)\.\.?(\/|$))[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

/**
 * Everything a restore checks before it touches the target, in order, stopping at the first layer
 * that fails: the manifest (present, its digest), each file (size, SHA-256), then the copied
 * database opened read-only: SQLite's quick_check, row counts equal to the manifest's, the audit
 * chain verified end to end by the audit verifier and ending at the manifest's head, and the
 * newest signed checkpoint verified with the copied key.
 */
export async function verifyBackupCopy(
  dir: string,
): Promise<{ manifest?: BackupManifest; checks: Check[] }> {
  const read = readManifest(join(dir, MANIFEST_FILE));
  if ('problem' in read) return { checks: [failed('manifest', read.problem)] };
  const { manifest } = read;
  const checks: Check[] = [
    passed('manifest', `${manifest.store} backup of ${manifest.createdAt}, digest verified`),
  ];
  if (manifest.store !== 'sqlite') {
    checks.push(
      failed(
        'store',
        'a PostgreSQL backup is restored with PostgreSQL (pg_basebackup, point-in-time recovery); then run `openspine backup verify --manifest` against it',
      ),
    );
    return { manifest, checks };
  }

  const bad: string[] = [];
  if (!manifest.files.some((f) => f.name === DB_NAME)) bad.push(`${DB_NAME} is not listed`);
  for (const f of manifest.files) {
    if (typeof f.name !== 'string' || !SAFE_NAME.test(f.name)) {
      bad.push(`${JSON.stringify(f.name)} is not a file name inside the backup`);
      continue;
    }
    const path = join(dir, f.name);
    if (!existsSync(path)) {
      bad.push(`${f.name} is missing`);
      continue;
    }
    const actual = await digestFile(path);
    if (actual.bytes !== f.bytes)
      bad.push(`${f.name} has ${actual.bytes} bytes, the manifest says ${f.bytes}`);
    else if (actual.sha256 !== f.sha256)
      bad.push(`${f.name}: its SHA-256 does not match the manifest (the file was changed)`);
  }
  if (bad.length) return { manifest, checks: [...checks, failed('files', bad.join('; '))] };
  checks.push(passed('files', `${manifest.files.length} files match their SHA-256 digests`));

  let copy;
  try {
    copy = openSqliteReadOnly(join(dir, DB_NAME));
  } catch (err) {
    return { manifest, checks: [...checks, failed('database', (err as Error).message)] };
  }
  try {
    const quick = copy.db.pragma('quick_check', { simple: true });
    if (quick !== 'ok')
      return {
        manifest,
        checks: [...checks, failed('database', `SQLite quick_check: ${String(quick)}`)],
      };
    checks.push(passed('database', 'opened read-only, SQLite quick_check ok'));
    const census = sqliteCensus(copy.db);
    checks.push(...rowCountChecks(census.tables, manifest.tables, 'equal', GROW_ONLY_TABLES));
    checks.push(
      ...(await auditChecks(copy.audit, publicKeysIn(dir), {
        head: manifest.auditHead,
        mode: 'ends-at',
      })),
    );
    const recorded = manifest.checkpoint;
    const inCopy = census.checkpoint;
    if ((recorded?.jws ?? null) !== (inCopy?.jws ?? null))
      checks.push(
        failed(
          "manifest's checkpoint",
          `the manifest names the checkpoint at entry ${recorded?.seq ?? 'none'}, the copy's newest is at ${inCopy?.seq ?? 'none'}`,
        ),
      );
  } finally {
    copy.close();
  }
  return { manifest, checks };
}
