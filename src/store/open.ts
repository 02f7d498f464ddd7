import { join } from 'node:path';
import type { Config } from '../config.js';
import type { Repository } from './types.js';
import { SqliteRepository } from './sqlite/sqlite-repository.js';

/** Opens (and migrates) the store the configuration names. */
export async function openRepository(config: Pick<Config, 'store' | 'dataDir' | 'databaseUrl' | 'databaseSchema'>): Promise<Repository> {
  let repo: Repository;
  if (config.store === 'postgres') {
    const { PostgresRepository } = await import('./postgres/postgres-repository.js');
    repo = new PostgresRepository(config.databaseUrl, config.databaseSchema);
  } else {
    repo = new SqliteRepository(join(config.dataDir, 'openspine.db'));
  }
  await repo.migrate();
  return repo;
}
