/**
 * `openspine backup`, `restore` and `backup verify` as real child processes. On SQLite: a backup
 * taken while a server keeps acknowledging writes holds every write acknowledged before it began,
 * restores into a fresh data directory that serves and verifies; a tampered copy (a changed byte,
 * an edited manifest, no manifest, a rewritten audit row with every digest recomputed, another
 * key) is refused naming what did not verify, and the target is left untouched; a non-empty target
 * is refused without --force. PostgreSQL and usage errors: backup-postgres.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Patient } from 'fhir/r4.js';
import { digestFile, sealManifest, type BackupManifest } from '../src/backup/manifest.js';
import { loadOrCreateSigningKey, mintToken } from '../src/security/embedded-idp.js';
import { generateSigningKey } from '../src/security/signing-keys.js';
import { createPatientGenerator } from '../src/seed/patient-generator.js';
import { seedPatients } from '../src/seed/seed-patients.js';
import { isRestricted, PATIENT } from '../src/services/pds/patient-model.js';
import { openRepository } from '../src/store/open.js';
import {
  killAllChildren,
  pdsRequest,
  runCli,
  startChildServer,
  type ChildServer,
} from './helpers/child-server.js';
import { isolatedStoreConfig, storesUnderTest } from './helpers/stores.js';

const stores = await storesUnderTest();
after(killAllChildren);

const SEED = 11;
const WRITERS = 4;
/** Writes acknowledged (and a signed checkpoint stored) before the backup starts. */
const ACKS_BEFORE_BACKUP = 30;

const scratch = mkdtempSync(join(tmpdir(), 'openspine-backup-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const freshDir = (name: string) => join(scratch, `${name}-${randomUUID().slice(0, 8)}`);

function patchable(p: Patient): boolean {
  return (
    !isRestricted(p) &&
    Boolean(p.address?.[0]?.line?.length) &&
    (p.telecom?.[0]?.system === 'phone' || p.telecom?.[0]?.system === 'sms')
  );
}

const readManifestFile = (dir: string) =>
  JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as BackupManifest;
const writeManifestFile = (dir: string, m: BackupManifest) =>
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m, null, 2));
/** Recomputes a file's digest and size in the manifest, then the manifest's own digest. */
async function resealAfterEditing(dir: string, file: string): Promise<void> {
  const { digest: _d, ...m } = readManifestFile(dir);
  const digest = await digestFile(join(dir, file));
  m.files = m.files.map((f) => (f.name === file ? { name: file, ...digest } : f));
  writeManifestFile(dir, sealManifest(m));
}

if (stores.includes('sqlite')) {
  describe('backup and restore of the embedded store', () => {
    let dataDir: string;
    let cleanup: () => Promise<void>;
    let token: string;
    let server: ChildServer | undefined;
    const backupDir = freshDir('backup');
    const candidates: { id: string; address: string; telecom: string }[] = [];

    before(async () => {
      const iso = await isolatedStoreConfig('sqlite');
      dataDir = iso.config.dataDir;
      cleanup = iso.cleanup;
      const repo = await openRepository(iso.config);
      try {
        await seedPatients(repo, { patients: 30, seed: SEED });
      } finally {
        await repo.close();
      }
      const gen = createPatientGenerator(SEED);
      for (let i = 0; i < 30; i++) {
        const p = gen.generate(i).patient;
        if (patchable(p))
          candidates.push({ id: p.id!, address: p.address![0].id!, telecom: p.telecom![0].id! });
      }
      assert.ok(candidates.length >= WRITERS, 'enough patchable seeded patients');
      const key = await loadOrCreateSigningKey(dataDir);
      token = await mintToken(key, {
        userId: 'backup-tester',
        role: 'R8000',
        org: 'A81001',
        audience: 'openspine',
      });
    });

    after(async () => {
      await server?.kill();
      await cleanup?.();
    });

    it('copies a consistent store while a server keeps acknowledging writes, and the copy restores', async () => {
      const target = { store: 'sqlite' as const, dataDir, databaseUrl: '', databaseSchema: '' };
      server = await startChildServer(target, [
        '--audit-checkpoint-seconds',
        '1',
        '--rate-limit-user',
        '0',
      ]);
      const live = server;
      const acked: { id: string; version: number; line: string }[] = [];
      const problems: string[] = [];
      let stop = false;
      let counter = 0;
      const writer = async (c: (typeof candidates)[number]) => {
        let version = (await pdsRequest(live.url, token, { path: `/Patient/${c.id}` })).version!;
        while (!stop) {
          const line = `${++counter} Backup Lane`;
          const res = await pdsRequest(live.url, token, {
            path: `/Patient/${c.id}`,
            ifMatch: version,
            patches: [
              { op: 'test', path: '/address/0/id', value: c.address },
              { op: 'replace', path: '/address/0/line/0', value: line },
            ],
          });
          if (res.status !== 200) {
            problems.push(`PATCH ${c.id} answered ${res.status}`);
            return;
          }
          version = res.version!;
          acked.push({ id: c.id, version, line });
        }
      };
      const writers = Promise.all(candidates.slice(0, WRITERS).map(writer));

      // enough writes acknowledged, and a signed checkpoint stored, before the backup begins
      const liveDb = new Database(join(dataDir, 'openspine.db'), { readonly: true });
      const hasCheckpoint = () =>
        (liveDb.prepare('SELECT count(*) AS n FROM audit_checkpoints').get() as { n: number }).n >
        0;
      for (let waited = 0; acked.length < ACKS_BEFORE_BACKUP || !hasCheckpoint(); waited += 50) {
        assert.ok(waited < 60_000 && problems.length === 0, `no progress: ${problems.join('; ')}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      liveDb.close();
      const ackedBefore = acked.slice();
      const backup = await runCli(['backup', '--to', backupDir, '--data', dataDir]);
      const ackedDuring = acked.length - ackedBefore.length;
      // the live store, still taking writes, holds everything the backup recorded
      const liveVerify =
        backup.code === 0
          ? await runCli([
              'backup',
              'verify',
              '--manifest',
              join(backupDir, 'manifest.json'),
              '--data',
              dataDir,
            ])
          : undefined;
      stop = true;
      await writers;
      await live.kill();
      server = undefined;
      assert.equal(backup.code, 0, backup.stdout + backup.stderr);
      assert.deepEqual(problems, []);
      console.log(
        `# ${ackedBefore.length} writes acknowledged before the backup, ${ackedDuring} while it ran`,
      );
      assert.ok(ackedDuring > 0, 'the server kept acknowledging writes during the backup');
      assert.equal(liveVerify?.code, 0, liveVerify && liveVerify.stdout + liveVerify.stderr);

      const manifest = readManifestFile(backupDir);
      assert.equal(manifest.store, 'sqlite');
      assert.ok(manifest.checkpoint, 'the copy holds a signed checkpoint');
      assert.ok(manifest.tables.audit_log >= ackedBefore.length);
      assert.deepEqual(
        manifest.files.map((f) => f.name),
        ['openspine.db', 'keys/idp-signing-key.json'],
      );

      const restored = freshDir('restored');
      const restore = await runCli(['restore', '--from', backupDir, '--data', restored]);
      assert.equal(restore.code, 0, restore.stdout + restore.stderr);

      const repo = await openRepository({
        store: 'sqlite',
        dataDir: restored,
        databaseUrl: '',
        databaseSchema: '',
      });
      try {
        for (const a of ackedBefore) {
          const v = await repo.readVersion<Patient>(PATIENT, a.id, a.version);
          assert.equal(v?.resource.address?.[0]?.line?.[0], a.line, `${a.id} v${a.version}`);
        }
      } finally {
        await repo.close();
      }
      const audit = await runCli(['audit', 'verify', '--data', restored]);
      assert.equal(audit.code, 0, audit.stdout + audit.stderr);
      const verify = await runCli([
        'backup',
        'verify',
        '--manifest',
        join(backupDir, 'manifest.json'),
        '--data',
        restored,
      ]);
      assert.equal(verify.code, 0, verify.stdout + verify.stderr);
      assert.match(
        verify.stdout,
        /manifest's audit head in the chain: entry \d+ has the manifest's hash/,
      );

      // a server runs on the restored directory and answers with the acknowledged data
      server = await startChildServer({ ...target, dataDir: restored });
      const last = ackedBefore[ackedBefore.length - 1];
      const read = await pdsRequest(server.url, token, { path: `/Patient/${last.id}` });
      assert.equal(read.status, 200);
      assert.ok(read.version! >= last.version);
      await server.kill();
      server = undefined;
    });

    it('refuses to write a backup over a directory that holds one', async () => {
      const again = await runCli(['backup', '--to', backupDir, '--data', dataDir]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /is not empty/);
    });

    const tampered: [string, (dir: string) => Promise<void>, RegExp][] = [
      [
        'one byte of the database copy changed',
        async (dir) => {
          const file = join(dir, 'openspine.db');
          const bytes = readFileSync(file);
          bytes[Math.floor(bytes.length / 2)] ^= 0xff;
          writeFileSync(file, bytes);
        },
        /files: openspine\.db: its SHA-256 does not match the manifest/,
      ],
      [
        'a row count edited in the manifest',
        async (dir) => {
          const m = readManifestFile(dir);
          m.tables.resources += 1;
          writeManifestFile(dir, m);
        },
        /manifest: the manifest digest does not match its content/,
      ],
      [
        'a row count edited and the manifest digest recomputed',
        async (dir) => {
          const { digest: _d, ...m } = readManifestFile(dir);
          m.tables.resources += 1;
          writeManifestFile(dir, sealManifest(m));
        },
        /row counts: resources has \d+ rows, the manifest says \d+/,
      ],
      [
        'the manifest deleted',
        async (dir) => rmSync(join(dir, 'manifest.json')),
        /manifest: .*manifest\.json does not exist/,
      ],
      [
        'an audit row rewritten, with the file and manifest digests recomputed',
        async (dir) => {
          const db = new Database(join(dir, 'openspine.db'));
          db.exec(`DROP TRIGGER audit_log_no_update;
            UPDATE audit_log SET record = record || ' ' WHERE seq = 2;
            CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;`);
          db.close();
          await resealAfterEditing(dir, 'openspine.db');
        },
        /audit chain: broken at entry 2/,
      ],
      [
        'the signing key replaced by another, with the digests recomputed',
        async (dir) => {
          const other = await generateSigningKey();
          writeFileSync(join(dir, 'keys/idp-signing-key.json'), JSON.stringify(other.privateJwk));
          await resealAfterEditing(dir, 'keys/idp-signing-key.json');
        },
        /signed checkpoint at entry \d+ is not valid: it was signed by a key that is not in the given key set/,
      ],
    ];
    for (const [name, tamper, reason] of tampered) {
      it(`refuses a copy with ${name}, leaving the target untouched`, async () => {
        assert.ok(existsSync(join(backupDir, 'manifest.json')), 'the backup of the first test');
        const copy = freshDir('tampered');
        cpSync(backupDir, copy, { recursive: true });
        await tamper(copy);
        const target = freshDir('target');
        const r = await runCli(['restore', '--from', copy, '--data', target]);
        assert.equal(r.code, 1, r.stdout + r.stderr);
        assert.match(r.stderr, /restore refused: the backup in .* did not verify/);
        assert.match(r.stderr, reason);
        assert.equal(existsSync(target), false, 'the target was not created');
      });
    }

    it('refuses a target holding files unless --force, which moves them aside', async () => {
      const target = freshDir('occupied');
      const marker = 'the store this target held before';
      mkdirSync(target);
      writeFileSync(join(target, 'openspine.db'), marker);
      const refused = await runCli(['restore', '--from', backupDir, '--data', target]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /is not empty .*--force/);
      assert.equal(readFileSync(join(target, 'openspine.db'), 'utf8'), marker);

      cpSync(backupDir, join(target, 'backup'), { recursive: true });
      const inside = await runCli([
        'restore',
        '--from',
        join(target, 'backup'),
        '--data',
        target,
        '--force',
      ]);
      assert.equal(inside.code, 1);
      assert.match(inside.stderr, /is inside the data directory/);
      rmSync(join(target, 'backup'), { recursive: true });

      const forced = await runCli(['restore', '--from', backupDir, '--data', target, '--force']);
      assert.equal(forced.code, 0, forced.stdout + forced.stderr);
      const aside = readdirSync(target).filter((n) => n.startsWith('replaced-by-restore-'));
      assert.equal(aside.length, 1);
      assert.equal(readFileSync(join(target, aside[0], 'openspine.db'), 'utf8'), marker);
      const audit = await runCli(['audit', 'verify', '--data', target]);
      assert.equal(audit.code, 0, audit.stdout + audit.stderr);
    });

    it('refuses --force while a server has the target store open', async () => {
      const target = freshDir('serving');
      const placed = await runCli(['restore', '--from', backupDir, '--data', target]);
      assert.equal(placed.code, 0, placed.stderr);
      const running = await startChildServer({
        store: 'sqlite',
        dataDir: target,
        databaseUrl: '',
        databaseSchema: '',
      });
      try {
        const r = await runCli(['restore', '--from', backupDir, '--data', target, '--force']);
        assert.equal(r.code, 1, r.stdout + r.stderr);
        assert.match(r.stderr, /in use by another process/);
        assert.deepEqual(
          readdirSync(target).filter((n) => n.startsWith('replaced-by-restore-')),
          [],
        );
      } finally {
        await running.kill();
      }
    });
  });
}
