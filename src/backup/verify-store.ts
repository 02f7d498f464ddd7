import { join } from 'node:path';
import type { AuditStore } from '../store/audit-store.js';
import { auditChecks, failed, passed, rowCountChecks, type Check } from './checks.js';
import { GROW_ONLY_TABLES, postgresCensus, sqliteCensus, type StoreCensus } from './census.js';
import { DB_NAME } from './data-files.js';
import { readManifest, type BackupManifest } from './manifest.js';
import { publicKeysIn } from './signing-keys.js';
import { openSqliteReadOnly } from './sqlite-reader.js';

export interface StoreToVerify {
  store: 'sqlite' | 'postgres';
  /** The data directory: the SQLite store (embedded), and the signing keys (both). */
  dataDir: string;
  databaseUrl: string;
  databaseSchema: string;
  /** A backup's manifest.json to hold the store against. */
  manifestFile?: string;
}

/** Runs fn over the store's census and audit port, opened read-only (SQLite) or without migrating. */
async function withStore<T>(
  target: StoreToVerify,
  fn: (census: StoreCensus, audit: AuditStore) => Promise<T>,
): Promise<T> {
  if (target.store === 'sqlite') {
    const store = openSqliteReadOnly(join(target.dataDir, DB_NAME));
    try {
      return await fn(sqliteCensus(store.db), store.audit);
    } finally {
      store.close();
    }
  }
  const census = await postgresCensus(target.databaseUrl, target.databaseSchema);
  const { PostgresRepository } = await import('../store/postgres/postgres-repository.js');
  const repo = new PostgresRepository(target.databaseUrl, target.databaseSchema);
  try {
    return await fn(census, repo.audit);
  } finally {
    await repo.close();
  }
}

/**
 * `openspine backup verify`: a live or restored store's audit chain verifies end to end, its newest
 * signed checkpoint verifies with the data directory's key, and, against a backup's manifest, every
 * append-only table holds at least the manifest's rows and the chain holds the manifest's head
 * (same seq, same hash) and its newest checkpoint.
 */
export async function verifyStore(target: StoreToVerify): Promise<Check[]> {
  let manifest: BackupManifest | undefined;
  const checks: Check[] = [];
  if (target.manifestFile) {
    const read = readManifest(target.manifestFile);
    if ('problem' in read) return [failed('manifest', read.problem)];
    manifest = read.manifest;
    if (manifest.store !== target.store)
      return [
        failed(
          'manifest',
          `it is a ${manifest.store} backup; the store verified is ${target.store}`,
        ),
      ];
    checks.push(
      passed('manifest', `${manifest.store} backup of ${manifest.createdAt}, digest verified`),
    );
  }
  const keys = publicKeysIn(target.dataDir);
  try {
    await withStore(target, async (census, audit) => {
      if (manifest)
        checks.push(
          ...rowCountChecks(census.tables, manifest.tables, 'at-least', GROW_ONLY_TABLES),
        );
      checks.push(
        ...(await auditChecks(
          audit,
          keys,
          manifest && { head: manifest.auditHead, mode: 'contains' },
        )),
      );
      const pinned = manifest?.checkpoint;
      if (pinned) {
        const [stored] = await audit.auditCheckpoints(pinned.seq, pinned.seq);
        checks.push(
          stored?.jws === pinned.jws
            ? passed(
                "manifest's checkpoint",
                `the checkpoint at entry ${pinned.seq} is in the store`,
              )
            : failed(
                "manifest's checkpoint",
                `the checkpoint at entry ${pinned.seq} is not in the store as signed`,
              ),
        );
      }
    });
  } catch (err) {
    checks.push(failed('store', (err as Error).message));
  }
  return checks;
}
