import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { generateLegacy } from '../../src/services/migration/legacy-generate.js';
import { TEST_DATABASE_URL } from './stores.js';

/** A freshly generated legacy schema of its own for one test file, and its removal. */
export async function legacySource(
  rows: number,
  seed = 1,
): Promise<{
  url: string;
  schema: string;
  counts: Record<string, number>;
  drop: () => Promise<void>;
}> {
  const schema = 'legacy_' + randomUUID().replace(/-/g, '').slice(0, 16);
  const counts = await generateLegacy({ databaseUrl: TEST_DATABASE_URL, schema, rows, seed });
  return {
    url: TEST_DATABASE_URL,
    schema,
    counts,
    drop: async () => {
      const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    },
  };
}
