/**
 * The `openspine` program as an operator runs it: each command in its own process, judged by its
 * output, its exit code and what it leaves in the store.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { seedPatients } from '../src/seed/seed-patients.js';
import { PATIENT, RELATED_PERSON } from '../src/services/pds/patient-model.js';
import { openRepository } from '../src/store/open.js';
import type { Repository } from '../src/store/repository.js';
import type { StoredResource } from '../src/store/resource-store.js';
import {
  killAllChildren,
  pdsRequest,
  runCli,
  startChildServer,
  storeFlags,
  type StoreTarget,
} from './helpers/child-server.js';
import { isolatedStoreConfig, storesUnderTest, type StoreKind } from './helpers/stores.js';

const stores = await storesUnderTest();
after(killAllChildren);

function decodeJwtPart(part: string): any {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

/** A fresh isolated store whose clean-up runs in the describe's after hook. */
function storeFactory(kind: StoreKind) {
  const cleanups: (() => Promise<void>)[] = [];
  return {
    async make(): Promise<StoreTarget> {
      const { config, cleanup } = await isolatedStoreConfig(kind);
      cleanups.push(cleanup);
      return config;
    },
    async cleanupAll() {
      for (const c of cleanups) await c().catch(() => {});
    },
  };
}

describe('openspine token', () => {
  const stores = storeFactory('sqlite');
  after(async () => {
    await killAllChildren();
    await stores.cleanupAll();
  });

  it('prints one JWT for the role, user and org, valid 12 hours, accepted only by a server on the same data dir', async () => {
    const [dirA, dirB] = [await stores.make(), await stores.make()];
    const repo = await openRepository(dirA);
    const seeded = await seedPatients(repo, { patients: 5, seed: 1 });
    await repo.close();
    const nhs = seeded.firstNhsNumber!;

    const before = Math.floor(Date.now() / 1000);
    const [a, b] = await Promise.all([
      runCli([
        'token',
        '--role',
        'R8000',
        '--user',
        'u1',
        '--org',
        'A81001',
        '--data',
        dirA.dataDir,
      ]),
      runCli([
        'token',
        '--role',
        'R8000',
        '--user',
        'u1',
        '--org',
        'A81001',
        '--data',
        dirB.dataDir,
      ]),
    ]);
    const afterward = Math.floor(Date.now() / 1000);
    for (const r of [a, b]) {
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stdout,
        /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$/,
        'exactly one line holding a compact JWS',
      );
    }
    const [header, payload] = a.stdout.trim().split('.').slice(0, 2).map(decodeJwtPart);
    assert.equal(header.alg, 'ES256');
    assert.equal(payload.role, 'R8000');
    assert.equal(payload.org, 'A81001');
    assert.equal(payload.sub, 'u1');
    assert.equal(payload.aud, 'openspine');
    assert.ok(
      payload.iat >= before - 1 && payload.iat <= afterward + 1,
      `iat ${payload.iat} not now`,
    );
    assert.ok(
      Math.abs(payload.exp - payload.iat - 12 * 3600) <= 5,
      `lifetime ${payload.exp - payload.iat} s`,
    );
    assert.notEqual(a.stdout, b.stdout);

    const server = await startChildServer(dirA);
    try {
      const ok = await pdsRequest(server.url, a.stdout.trim(), { path: `/Patient/${nhs}` });
      assert.equal(ok.status, 200);
      assert.equal(ok.body.id, nhs);
      const foreign = await pdsRequest(server.url, b.stdout.trim(), { path: `/Patient/${nhs}` });
      assert.equal(foreign.status, 401, "a token from another data directory's identity provider");
    } finally {
      await server.kill('SIGTERM');
    }
  });

  it('exits non-zero without printing a token when --role or --org is missing', async () => {
    const dir = await stores.make();
    const runs = await Promise.all([
      runCli(['token', '--user', 'u1', '--org', 'A81001', '--data', dir.dataDir]),
      runCli(['token', '--role', 'R8000', '--user', 'u1', '--data', dir.dataDir]),
    ]);
    for (const r of runs) {
      assert.notEqual(r.code, 0);
      assert.equal(r.signal, null);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /--role/);
    }
  });

  it('--patient prints a P9 patient token that reads that patient and no other', async () => {
    const dir = await stores.make();
    const repo = await openRepository(dir);
    await seedPatients(repo, { patients: 5, seed: 2 });
    const ids = await repo.search({
      type: PATIENT,
      criteria: [{ any: [{ param: 'identifier', op: 'prefix', value: '9' }] }],
      limit: 5,
    });
    await repo.close();
    const [own, other] = ids;
    const r = await runCli([
      'token',
      '--patient',
      own,
      '--name',
      'Pat Ient',
      '--data',
      dir.dataDir,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const payload = decodeJwtPart(r.stdout.trim().split('.')[1]);
    assert.equal(payload.subject_type, 'patient');
    assert.equal(payload.nhs_number, own);
    assert.equal(payload.identity_proofing_level, 'P9');
    const server = await startChildServer(dir);
    try {
      assert.equal(
        (await pdsRequest(server.url, r.stdout.trim(), { path: `/Patient/${own}` })).status,
        200,
      );
      const denied = await pdsRequest(server.url, r.stdout.trim(), { path: `/Patient/${other}` });
      assert.equal(denied.status, 403);
    } finally {
      await server.kill('SIGTERM');
    }
    const bad = await runCli(['token', '--patient', '1234567890', '--data', dir.dataDir]);
    assert.equal(bad.code, 2);
    assert.equal(bad.stdout, '');
    const staffAsPatient = await runCli([
      'token',
      '--role',
      'patient',
      '--user',
      'x',
      '--org',
      'A81001',
      '--data',
      dir.dataDir,
    ]);
    assert.equal(staffAsPatient.code, 2);
  });

  it('exits 2 on an unknown command', async () => {
    const r = await runCli(['frobnicate', '--data', '/nonexistent']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown command 'frobnicate'/);
    assert.equal(r.stdout, '');
  });
});

/** Every current patient, by id, through the NHS Number index. */
async function allPatients(repo: Repository): Promise<StoredResource[]> {
  const ids = await repo.search({
    type: PATIENT,
    criteria: [{ any: [{ param: 'identifier', op: 'prefix', value: '9' }] }],
    limit: 10_000,
  });
  return (await repo.readMany(PATIENT, ids)).sort((x, y) => (x.id < y.id ? -1 : 1));
}

function withoutLastUpdated(s: StoredResource) {
  const { lastUpdated: _l, resource, ...rest } = s;
  const { lastUpdated: _m, ...meta } = resource.meta ?? {};
  return { ...rest, resource: { ...resource, meta } };
}

/** Runs SQL on the store behind the product's back, as a malicious administrator could. */
async function tamper(
  target: StoreTarget,
  run: (sql: (text: string, params?: unknown[]) => Promise<any[]>) => Promise<void>,
): Promise<void> {
  if (target.store === 'sqlite') {
    const db = new Database(join(target.dataDir, 'openspine.db'));
    try {
      await run(async (text, params = []) => {
        const stmt = db.prepare(text.replace(/\$\d+/g, '?'));
        return stmt.reader ? stmt.all(...params) : (stmt.run(...params), []);
      });
    } finally {
      db.close();
    }
  } else {
    const client = new pg.Client({
      connectionString: target.databaseUrl,
      options: `-c search_path=${target.databaseSchema}`,
    });
    await client.connect();
    try {
      await run(async (text, params = []) => (await client.query(text, params)).rows);
    } finally {
      await client.end();
    }
  }
}

for (const kind of stores) {
  describe(`openspine seed and audit verify on ${kind}`, () => {
    const factory = storeFactory(kind);
    let first: StoreTarget;

    after(async () => {
      await killAllChildren();
      await factory.cleanupAll();
    });

    it('seed --patients 500 --seed 3 is reproducible, another --seed differs, and a re-run adds no duplicates', async () => {
      const [t1, t2, t3] = [await factory.make(), await factory.make(), await factory.make()];
      first = t1;
      const seed = (t: StoreTarget, s: number) =>
        runCli(['seed', '--patients', '500', '--seed', String(s), ...storeFlags(t)]);
      const runs = await Promise.all([seed(t1, 3), seed(t2, 3), seed(t3, 4)]);
      for (const r of runs) {
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /seeded 500 patients \(0 already present\)/);
      }
      const again = await seed(t1, 3);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /seeded 0 patients \(500 already present\)/);

      const repos = await Promise.all([t1, t2, t3].map((t) => openRepository(t)));
      try {
        const [p1, p2, p3] = await Promise.all(repos.map(allPatients));
        assert.equal(await repos[0].count(PATIENT), 500, 'no duplicates after seeding twice');
        assert.equal(p1.length, 500);
        assert.deepEqual(
          p1.map((p) => p.id),
          p2.map((p) => p.id),
        );
        assert.deepEqual(p1.map(withoutLastUpdated), p2.map(withoutLastUpdated));
        assert.equal(await repos[0].count(RELATED_PERSON), await repos[1].count(RELATED_PERSON));
        for (const p of p1.slice(0, 25)) {
          const rp = (r: Repository) =>
            r.search({
              type: RELATED_PERSON,
              criteria: [{ any: [{ param: 'patient', op: 'eq', value: p.id }] }],
              limit: 50,
            });
          const [rp1, rp2] = [await rp(repos[0]), await rp(repos[1])];
          assert.deepEqual(rp1, rp2);
          assert.deepEqual(
            (await repos[0].readMany(RELATED_PERSON, rp1)).map(withoutLastUpdated),
            (await repos[1].readMany(RELATED_PERSON, rp2)).map(withoutLastUpdated),
          );
        }
        assert.equal(p3.length, 500);
        const ids1 = new Set(p1.map((p) => p.id));
        assert.ok(
          p3.filter((p) => ids1.has(p.id)).length < 50,
          'another seed gives other patients',
        );
        assert.notDeepEqual(
          p1.map((p) => p.resource.name),
          p3.map((p) => p.resource.name),
        );
      } finally {
        await Promise.all(repos.map((r) => r.close()));
      }
    });

    it('audit verify exits 0 on an intact chain, non-zero naming the entry after a record is edited or deleted', async () => {
      const target = first ?? (await factory.make());
      const repo = await openRepository(target);
      try {
        for (let i = 1; i <= 8; i++) {
          await repo.commit({
            audit: [
              {
                time: new Date().toISOString(),
                requestId: `cli-test-${i}`,
                userId: `user-${i}`,
                role: 'R8000',
                org: 'A81001',
                patient: null,
                action: 'pds.read',
                outcome: 'success',
              },
            ],
          });
        }
      } finally {
        await repo.close();
      }
      const verify = () => runCli(['audit', 'verify', ...storeFlags(target)]);
      const intact = await verify();
      assert.equal(intact.code, 0, intact.stderr);
      const total = Number(/audit chain intact: (\d+) entries/.exec(intact.stdout)?.[1]);
      assert.ok(total >= 8, intact.stdout);

      const edited = total - 3,
        removed = total - 1;
      let original = '';
      await tamper(target, async (sql) => {
        if (target.store === 'sqlite') await sql('DROP TRIGGER audit_log_no_update');
        else await sql('ALTER TABLE audit_log DISABLE TRIGGER ALL');
        original = (await sql('SELECT record FROM audit_log WHERE seq = $1', [edited]))[0].record;
        const forged = { ...JSON.parse(original), userId: 'someone-else' };
        await sql('UPDATE audit_log SET record = $1 WHERE seq = $2', [
          JSON.stringify(forged),
          edited,
        ]);
      });
      const afterEdit = await verify();
      assert.notEqual(afterEdit.code, 0);
      assert.match(afterEdit.stderr, new RegExp(`BROKEN at entry ${edited}\\b`));

      // put the edited record back, and delete a later one instead
      await tamper(target, async (sql) => {
        await sql('UPDATE audit_log SET record = $1 WHERE seq = $2', [original, edited]);
        if (target.store === 'sqlite') await sql('DROP TRIGGER audit_log_no_delete');
        await sql('DELETE FROM audit_log WHERE seq = $1', [removed]);
      });
      const afterDelete = await verify();
      assert.notEqual(afterDelete.code, 0);
      assert.match(
        afterDelete.stderr,
        new RegExp(`BROKEN at entry ${removed + 1}\\b.*expected entry ${removed}\\b`),
      );

      // removing the newest entries leaves a linked chain, but it stops short of the recorded head
      await tamper(target, async (sql) => {
        await sql('DELETE FROM audit_log WHERE seq >= $1', [removed]);
      });
      const afterTruncate = await verify();
      assert.notEqual(afterTruncate.code, 0);
      assert.match(
        afterTruncate.stderr,
        new RegExp(`BROKEN at entry ${removed}\\b.*recorded chain head is entry ${total}\\b`),
      );
    });
  });
}
