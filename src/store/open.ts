import { join } from 'node:path';
import type { Config } from '../config.js';
import type { BulkTarget } from './bulk.js';
import type { Repository } from './repository.js';
import { SqliteRepository } from './sqlite/sqlite-repository.js';

/** The embedded store's database file, or undefined for PostgreSQL (bulk loaders open it directly). */
export function sqliteFileOf(config: Pick<Config, 'store' | 'dataDir'>): string | undefined {
  return config.store === 'postgres' ? undefined : join(config.dataDir, 'openspine.db');
}

/** Where a bulk loader (src/store/bulk.ts: openBulkLoader) writes into the store the configuration names. */
export function bulkTargetOf(
  config: Pick<Config, 'store' | 'dataDir' | 'databaseUrl' | 'databaseSchema'>,
): BulkTarget {
  return config.store === 'postgres'
    ? { postgres: { url: config.databaseUrl, schema: config.databaseSchema } }
    : { sqliteFile: sqliteFileOf(config) };
}

/** Opens (and migrates) the store the configuration names. */
export async function openRepository(
  config: Pick<Config, 'store' | 'dataDir' | 'databaseUrl' | 'databaseSchema'>,
): Promise<Repository> {
  let repo: Repository;
  if (config.store === 'postgres') {
    const { PostgresRepository } = await import('./postgres/postgres-repository.js');
    repo = new PostgresRepository(config.databaseUrl, config.databaseSchema);
  } else {
    repo = new SqliteRepository(sqliteFileOf(config)!);
  }
  await repo.migrate();
  return repo;
}
