import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { AuditRecord } from '../../src/audit/types.js';
import type { Config } from '../../src/config.js';

/** Which stores the suite runs against: OPENSPINE_TEST_STORE=sqlite|postgres|both (default both). */
export type StoreKind = 'sqlite' | 'postgres';

export const TEST_DATABASE_URL =
  process.env.OPENSPINE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const requested = process.env.OPENSPINE_TEST_STORE ?? 'both';
if (!['sqlite', 'postgres', 'both'].includes(requested))
  throw new Error(`OPENSPINE_TEST_STORE must be sqlite, postgres or both, not ${requested}`);

let postgresReachable: Promise<boolean> | undefined;
async function canReachPostgres(): Promise<boolean> {
  postgresReachable ??= (async () => {
    const client = new pg.Client({
      connectionString: TEST_DATABASE_URL,
      connectionTimeoutMillis: 2000,
    });
    try {
      await client.connect();
      await client.end();
      return true;
    } catch {
      return false;
    }
  })();
  return postgresReachable;
}

/**
 * The stores to test. PostgreSQL is required when asked for explicitly (CI sets
 * OPENSPINE_TEST_STORE=both); by default a machine without a server skips it with a note.
 */
export async function storesUnderTest(): Promise<StoreKind[]> {
  if (requested === 'sqlite') return ['sqlite'];
  if (requested === 'postgres') return ['postgres'];
  if (process.env.OPENSPINE_TEST_STORE === 'both' || (await canReachPostgres()))
    return ['sqlite', 'postgres'];
  console.log(
    '# PostgreSQL not reachable at ' + TEST_DATABASE_URL + ': store tests run on SQLite only',
  );
  return ['sqlite'];
}

/** A fresh, isolated store configuration (temp data dir, own PostgreSQL schema) and its clean-up. */
export async function isolatedStoreConfig(kind: StoreKind): Promise<{
  config: Pick<Config, 'store' | 'dataDir' | 'databaseUrl' | 'databaseSchema'>;
  cleanup: () => Promise<void>;
}> {
  const dataDir = mkdtempSync(join(tmpdir(), 'openspine-test-'));
  const schema =
    kind === 'postgres' ? 't_' + randomUUID().replace(/-/g, '').slice(0, 20) : 'public';
  if (kind === 'postgres') {
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await client.connect();
    await client.query(`CREATE SCHEMA ${schema}`);
    await client.end();
  }
  return {
    config: { store: kind, dataDir, databaseUrl: TEST_DATABASE_URL, databaseSchema: schema },
    cleanup: async () => {
      rmSync(dataDir, { recursive: true, force: true });
      if (kind === 'postgres') {
        const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await client.end();
      }
    },
  };
}

/** The audit record a bulk-load test appends with its batch, as a seed's would be. */
export const bulkLoadAudit = (requestId: string): AuditRecord => ({
  time: new Date().toISOString(),
  requestId,
  userId: 'test',
  role: 'system',
  org: 'OPENSPINE',
  patient: null,
  action: 'pds.seed',
  outcome: 'success',
});
