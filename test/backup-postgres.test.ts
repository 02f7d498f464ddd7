/**
 * `openspine backup` on PostgreSQL writes a manifest only (beside a pg_basebackup): `backup verify
 * --manifest` passes against its schema and fails once rows are gone. Usage errors of `backup` and
 * `restore` exit 2. (The embedded store's backup and restore: backup.test.ts.)
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { AuditCheckpointSigner } from '../src/audit/checkpoint-signer.js';
import type { BackupManifest } from '../src/backup/manifest.js';
import { loadOrCreateSigningKey } from '../src/security/embedded-idp.js';
import { seedPatients } from '../src/seed/seed-patients.js';
import { openRepository } from '../src/store/open.js';
import { killAllChildren, runCli, spawnCli, storeFlags } from './helpers/child-server.js';
import { isolatedStoreConfig, storesUnderTest } from './helpers/stores.js';

const stores = await storesUnderTest();
after(killAllChildren);

const SEED = 11;
const scratch = mkdtempSync(join(tmpdir(), 'openspine-backup-pg-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const freshDir = (name: string) => join(scratch, `${name}-${randomUUID().slice(0, 8)}`);
const readManifestFile = (dir: string) =>
  JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as BackupManifest;

if (stores.includes('postgres')) {
  describe('a manifest-only backup of a PostgreSQL schema', () => {
    it('verifies against its schema, and fails once rows are missing', async () => {
      const { config, cleanup } = await isolatedStoreConfig('postgres');
      try {
        const repo = await openRepository(config);
        try {
          await seedPatients(repo, { patients: 12, seed: SEED });
          const key = await loadOrCreateSigningKey(config.dataDir);
          assert.ok(await new AuditCheckpointSigner(repo, key).tick(), 'a checkpoint was signed');
        } finally {
          await repo.close();
        }
        const dir = freshDir('pg-manifest');
        const made = await runCli(['backup', '--to', dir, ...storeFlags(config)]);
        assert.equal(made.code, 0, made.stdout + made.stderr);
        const manifest = readManifestFile(dir);
        assert.equal(manifest.store, 'postgres');
        assert.deepEqual(manifest.files, []);
        assert.ok(manifest.tables.resources > 0);
        assert.ok(manifest.checkpoint);
        assert.deepEqual(readdirSync(dir), ['manifest.json']);

        const verifyArgs = [
          'backup',
          'verify',
          '--manifest',
          join(dir, 'manifest.json'),
          ...storeFlags(config),
        ];
        const ok = await runCli(verifyArgs);
        assert.equal(ok.code, 0, ok.stdout + ok.stderr);
        assert.match(ok.stdout, /newest signed checkpoint: entry \d+, signed/);

        const client = new pg.Client({ connectionString: config.databaseUrl });
        await client.connect();
        await client.query(
          `DELETE FROM ${config.databaseSchema}.resources WHERE rid IN (SELECT rid FROM ${config.databaseSchema}.resources LIMIT 2)`,
        );
        await client.end();
        const missing = await runCli(verifyArgs);
        assert.equal(missing.code, 1, missing.stdout + missing.stderr);
        assert.match(missing.stderr, /resources has \d+ rows, fewer than the manifest's \d+/);
      } finally {
        await cleanup();
      }
    });
  });
}

describe('backup and restore usage', () => {
  const usage: string[][] = [
    ['backup'],
    ['backup', '--to'],
    ['backup', '--to', 'x', '--bogus'],
    ['backup', 'verify', '--store', 'mysql'],
    ['backup', 'verify', '--to', 'x'],
    ['backup', 'check'],
    ['restore'],
    ['restore', '--from', 'x', '--store', 'postgres'],
    ['restore', 'now', '--from', 'x'],
  ];
  for (const args of usage) {
    it(`openspine ${args.join(' ')} exits 2`, async () => {
      const r = await runCli(args);
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.match(r.stderr, /openspine (backup|restore)/);
    });
  }

  it('a restore from a directory without a backup exits 1, naming the missing manifest', async () => {
    const target = freshDir('nothing');
    const r = spawnCli(['restore', '--from', freshDir('empty'), '--data', target]);
    const exit = await r.exited;
    assert.equal(exit.code, 1);
    assert.match(r.stderr(), /manifest\.json does not exist/);
    assert.equal(existsSync(target), false);
  });
});
