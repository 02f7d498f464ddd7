/**
 * Durability and concurrency through a real `openspine serve` process: writes acknowledged with 200
 * must survive the process being SIGKILLed mid-stream, the store must reopen cleanly with an intact
 * audit chain, a killed seeding run leaves only whole batches, and optimistic concurrency holds over
 * real HTTP (and, on PostgreSQL, across two server processes on one schema).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { Patient } from 'fhir/r4.js';
import { ChainVerifier } from '../src/audit/chain.js';
import { loadOrCreateSigningKey, mintToken } from '../src/security/embedded-idp.js';
import { createPatientGenerator } from '../src/seed/patient-generator.js';
import { seedPatients } from '../src/seed/seed-patients.js';
import { isRestricted, PATIENT, RELATED_PERSON } from '../src/services/pds/patient-model.js';
import { openRepository } from '../src/store/open.js';
import type { AuditEntry } from '../src/audit/types.js';
import type { Repository } from '../src/store/repository.js';
import {
  killAllChildren,
  pdsRequest,
  REPO_ROOT,
  runCli,
  spawnTsx,
  spineCodeOf,
  startChildServer,
  storeFlags,
  type ChildServer,
  type StoreTarget,
} from './helpers/child-server.js';
import { isolatedStoreConfig, storesUnderTest } from './helpers/stores.js';

const stores = await storesUnderTest();
after(killAllChildren);

const SEED = 7;
const STREAM_PATIENTS = 4;
/** SIGKILL the server once this many writes have been acknowledged. */
const KILL_AFTER_ACKS = 40;

interface Attempt {
  id: string;
  n: number;
  line: string;
  phone: string;
  requestId: string;
  expected: number;
}
interface Ack extends Attempt {
  version: number;
}

/** Patients a PATCH of address line 0 and phone telecom 0 applies to (unrestricted, with both). */
function patchable(p: Patient): boolean {
  return (
    !isRestricted(p) &&
    Boolean(p.address?.[0]?.line?.length) &&
    (p.telecom?.[0]?.system === 'phone' || p.telecom?.[0]?.system === 'sms')
  );
}

/** The ids of each candidate's address 0 and telecom 0 (the generator is deterministic). */
const itemIds = new Map<string, { address: string; telecom: string }>();
// a change within a list item names the item's id first
// (NHSDigital/personal-demographics-service-api replaceErrors.feature)
const patchesFor = (id: string, line: string, phone: string) => [
  { op: 'test', path: '/address/0/id', value: itemIds.get(id)?.address },
  { op: 'replace', path: '/address/0/line/0', value: line },
  { op: 'test', path: '/telecom/0/id', value: itemIds.get(id)?.telecom },
  { op: 'replace', path: '/telecom/0/value', value: phone },
];

async function allAudit(repo: Repository): Promise<AuditEntry[]> {
  return repo.audit.readAudit(0, 1_000_000);
}

async function auditVerify(
  target: StoreTarget,
): Promise<{ code: number | null; entries: number; out: string }> {
  const r = await runCli(['audit', 'verify', ...storeFlags(target)]);
  const entries = Number(/audit chain intact: (\d+) entries/.exec(r.stdout)?.[1] ?? NaN);
  return { code: r.code, entries, out: r.stdout + r.stderr };
}

for (const kind of stores) {
  describe(`a SIGKILLed server on ${kind}`, () => {
    let target: StoreTarget;
    let cleanup: () => Promise<void>;
    let token: string;
    const candidates: string[] = [];
    let server: ChildServer | undefined;

    before(async () => {
      const iso = await isolatedStoreConfig(kind);
      target = iso.config;
      cleanup = iso.cleanup;
      const repo = await openRepository(target);
      try {
        await seedPatients(repo, { patients: 40, seed: SEED });
        const gen = createPatientGenerator(SEED);
        for (let i = 0; i < 40; i++) {
          const p = gen.generate(i).patient;
          if (patchable(p)) candidates.push(p.id!);
          if (patchable(p))
            itemIds.set(p.id!, { address: p.address![0].id!, telecom: p.telecom![0].id! });
        }
      } finally {
        await repo.close();
      }
      assert.ok(candidates.length >= STREAM_PATIENTS + 3, 'enough patchable seeded patients');
      const key = await loadOrCreateSigningKey(target.dataDir); // before any child, which would otherwise create it
      token = await mintToken(key, {
        userId: 'crash-tester',
        role: 'R8000',
        org: 'A81001',
        audience: 'openspine',
      });
    });

    after(async () => {
      await server?.kill();
      await killAllChildren();
      await cleanup?.();
    });

    it('keeps every acknowledged PATCH, with gap-free history, index and audit, after SIGKILL mid-stream', async (t) => {
      server = await startChildServer(target);
      const victim = server;
      const ids = candidates.slice(0, STREAM_PATIENTS);
      const acked: Ack[] = [];
      const inFlightAtEnd = new Map<string, Attempt>(); // per patient: the request whose answer never came
      const unexpected: string[] = [];
      let counter = 0,
        inflight = 0,
        inflightAtKill = -1;
      let killed = false;

      const stream = async (id: string) => {
        const first = await pdsRequest(victim.url, token, { path: `/Patient/${id}` });
        assert.equal(first.status, 200);
        let version = first.version!;
        while (!killed) {
          const n = ++counter;
          const attempt: Attempt = {
            id,
            n,
            line: `${n} Durability Road ${kind}`,
            phone: '0770' + String(9_000_000 + n),
            requestId: randomUUID(),
            expected: version,
          };
          inFlightAtEnd.set(id, attempt);
          inflight++;
          let res;
          try {
            res = await pdsRequest(victim.url, token, {
              path: `/Patient/${id}`,
              patches: patchesFor(id, attempt.line, attempt.phone),
              ifMatch: version,
              requestId: attempt.requestId,
            });
          } catch {
            inflight--;
            if (!killed) unexpected.push(`request ${n} failed before the kill`);
            return; // connection lost: this write's outcome is unknown
          }
          inflight--;
          if (res.status !== 200) {
            unexpected.push(`write ${n} on ${id} answered ${res.status} ${spineCodeOf(res.body)}`);
            return;
          }
          inFlightAtEnd.delete(id);
          acked.push({ ...attempt, version: res.version! });
          version = res.version!;
          if (acked.length >= KILL_AFTER_ACKS && !killed) {
            killed = true;
            inflightAtKill = inflight;
            victim.child.kill('SIGKILL');
          }
        }
      };
      await Promise.all(ids.map(stream));
      const exit = await victim.exited;
      assert.deepEqual(unexpected, []);
      assert.equal(exit.signal, 'SIGKILL', 'the server was killed, not stopped');
      assert.ok(acked.length >= KILL_AFTER_ACKS, 'expected true at crash-durability.test.ts:142');
      assert.ok(inflightAtKill >= 1, 'requests were in flight when the server was killed');

      // the store reopens and its audit chain verifies (a separate process, before any server)
      const verified = await auditVerify(target);
      assert.equal(verified.code, 0, verified.out);

      server = await startChildServer(target);
      const repo = await openRepository(target);
      try {
        const audit = await allAudit(repo);
        assert.equal(audit.length, verified.entries);
        const byRequest = new Map<string, AuditEntry[]>();
        for (const e of audit)
          byRequest.set(e.record.requestId, [...(byRequest.get(e.record.requestId) ?? []), e]);
        const updates = (requestId: string) =>
          (byRequest.get(requestId) ?? []).filter(
            (e) => e.record.action === 'pds.update' && e.record.outcome === 'success',
          );

        let committedUnanswered = 0;
        for (const id of ids) {
          const mine = acked.filter((a) => a.id === id).sort((a, b) => a.version - b.version);
          const lastAcked = mine.length ? mine[mine.length - 1].version : 1;
          const history = await repo.history(PATIENT, id);
          const versions = history.map((h) => h.version).reverse();
          const current = versions.length;
          // no gap, no duplicate: exactly versions 1..current, each stamped with its own versionId
          assert.deepEqual(
            versions,
            Array.from({ length: current }, (_, i) => i + 1),
            `history of ${id}`,
          );
          for (const h of history) assert.equal(h.resource.meta?.versionId, String(h.version));
          // acknowledged writes are all there; at most the one unanswered write beyond them
          assert.ok(current >= lastAcked, `${id}: version ${current} < acknowledged ${lastAcked}`);
          assert.ok(
            current <= lastAcked + 1,
            `${id}: version ${current} beyond the one write in flight`,
          );
          const byVersion = new Map(history.map((h) => [h.version, h.resource as Patient]));
          for (const a of mine) {
            assert.equal(a.version, a.expected + 1);
            assert.equal(
              byVersion.get(a.version)?.address?.[0]?.line?.[0],
              a.line,
              `${id} v${a.version}`,
            );
            assert.equal(
              byVersion.get(a.version)?.telecom?.[0]?.value,
              a.phone,
              `${id} v${a.version}`,
            );
            assert.equal(
              updates(a.requestId).length,
              1,
              `audit entry of acknowledged write ${a.n}`,
            );
          }
          const unanswered = inFlightAtEnd.get(id);
          if (current === lastAcked + 1) {
            committedUnanswered++;
            assert.ok(unanswered, `${id} has a version nobody asked for`);
            assert.equal(byVersion.get(current)?.address?.[0]?.line?.[0], unanswered.line);
          }
          // the write and its audit entry commit together or not at all
          if (unanswered)
            assert.equal(updates(unanswered.requestId).length, current === lastAcked + 1 ? 1 : 0);

          // the current phone is indexed; the phone it replaced is not (no stale index rows)
          const latest = byVersion.get(current)!;
          const phoneSearch = (value: string) =>
            repo.search({
              type: PATIENT,
              criteria: [{ any: [{ param: 'phone', op: 'eq', value }] }],
              limit: 5,
            });
          assert.deepEqual(await phoneSearch(latest.telecom![0].value!), [id]);
          if (current >= 2)
            assert.deepEqual(await phoneSearch(byVersion.get(current - 1)!.telecom![0].value!), []);

          // the restarted server serves the current version, and accepts the next write
          const read = await pdsRequest(server.url, token, { path: `/Patient/${id}` });
          assert.equal(read.status, 200);
          assert.equal(read.version, current);
          assert.equal(read.body.address[0].line[0], latest.address![0].line![0]);
          const next = await pdsRequest(server.url, token, {
            path: `/Patient/${id}`,
            patches: patchesFor(id, `after restart ${id}`, '07701' + id.slice(4)),
            ifMatch: current,
          });
          assert.equal(next.status, 200, JSON.stringify(next.body));
          assert.equal(next.version, current + 1);
        }
        t.diagnostic(
          `${acked.length} writes acknowledged, ${inflightAtKill} in flight at the kill, ${inFlightAtEnd.size} unanswered of which ${committedUnanswered} committed`,
        );
      } finally {
        await repo.close();
      }
    });

    it('10 concurrent PATCHes with one If-Match over HTTP: exactly one 200, nine 409 RESOURCE_VERSION_MISMATCH', async () => {
      server ??= await startChildServer(target);
      const node = server;
      const id = candidates[STREAM_PATIENTS];
      const before = await pdsRequest(node.url, token, { path: `/Patient/${id}` });
      assert.equal(before.status, 200);
      const v = before.version!;
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          pdsRequest(node.url, token, {
            path: `/Patient/${id}`,
            patches: patchesFor(id, `racer ${i}`, `0770555000${i}`),
            ifMatch: v,
          }),
        ),
      );
      const winners = results.filter((r) => r.status === 200);
      const losers = results.filter((r) => r.status !== 200);
      assert.equal(winners.length, 1, `statuses ${results.map((r) => r.status)}`);
      assert.equal(losers.length, 9);
      for (const r of losers) {
        assert.equal(r.status, 409);
        assert.equal(spineCodeOf(r.body), 'RESOURCE_VERSION_MISMATCH');
      }
      assert.equal(winners[0].version, v + 1);
      const after = await pdsRequest(node.url, token, { path: `/Patient/${id}` });
      assert.equal(after.version, v + 1);
      assert.equal(after.body.address[0].line[0], winners[0].body.address[0].line[0]);

      const repo = await openRepository(target);
      try {
        assert.deepEqual(
          (await repo.history(PATIENT, id)).map((h) => h.version),
          Array.from({ length: v + 1 }, (_, i) => v + 1 - i),
        );
        const audit = await allAudit(repo);
        const outcomes = results.map((r) =>
          audit.filter((e) => e.record.requestId === r.requestId).map((e) => e.record.outcome),
        );
        assert.equal(outcomes.filter((o) => o.length === 1 && o[0] === 'success').length, 1);
        assert.equal(
          outcomes.filter((o) => o.length === 1 && o[0] === 'refused 409 RESOURCE_VERSION_MISMATCH')
            .length,
          9,
        );
      } finally {
        await repo.close();
      }
    });

    if (kind === 'postgres') {
      it("two server processes on one PostgreSQL schema: one winner across nodes, and each reads the other's writes", async () => {
        server ??= await startChildServer(target);
        const a = server;
        const b = await startChildServer(target);
        try {
          const id = candidates[STREAM_PATIENTS + 1];
          const before = await pdsRequest(a.url, token, { path: `/Patient/${id}` });
          const v = before.version!;
          const results = await Promise.all(
            Array.from({ length: 10 }, (_, i) =>
              pdsRequest(i % 2 ? b.url : a.url, token, {
                path: `/Patient/${id}`,
                patches: patchesFor(id, `node race ${i}`, `0770666000${i}`),
                ifMatch: v,
              }),
            ),
          );
          const winners = results.filter((r) => r.status === 200);
          assert.equal(winners.length, 1, `statuses ${results.map((r) => r.status)}`);
          for (const r of results)
            if (r.status !== 200) {
              assert.equal(r.status, 409);
              assert.equal(spineCodeOf(r.body), 'RESOURCE_VERSION_MISMATCH');
            }
          const line = winners[0].body.address[0].line[0];
          for (const node of [a, b]) {
            const read = await pdsRequest(node.url, token, { path: `/Patient/${id}` });
            assert.equal(read.version, v + 1);
            assert.equal(read.body.address[0].line[0], line);
          }
          // a write on node A is read on node B, and the other way round
          const onA = await pdsRequest(a.url, token, {
            path: `/Patient/${id}`,
            patches: patchesFor(id, 'written on A', '07706660100'),
            ifMatch: v + 1,
          });
          assert.equal(onA.status, 200);
          const seenByB = await pdsRequest(b.url, token, { path: `/Patient/${id}` });
          assert.equal(seenByB.version, v + 2);
          assert.equal(seenByB.body.address[0].line[0], 'written on A');
          const onB = await pdsRequest(b.url, token, {
            path: `/Patient/${id}`,
            patches: patchesFor(id, 'written on B', '07706660101'),
            ifMatch: v + 2,
          });
          assert.equal(onB.status, 200);
          const seenByA = await pdsRequest(a.url, token, { path: `/Patient/${id}` });
          assert.equal(seenByA.version, v + 3);
          assert.equal(seenByA.body.address[0].line[0], 'written on B');
          // SIGTERM is a clean shutdown
          assert.equal((await b.kill('SIGTERM')).code, 0);
          // two processes appended to one chain: it is still linear and intact
          const repo = await openRepository(target);
          try {
            const verifier = new ChainVerifier();
            for (const e of await allAudit(repo)) verifier.push(e);
            const result = verifier.finish();
            assert.ok(result.ok, JSON.stringify(result.brokenAt));
            assert.ok(
              (await allAudit(repo)).some(
                (e) => e.record.requestId === onB.requestId && e.record.outcome === 'success',
              ),
              'expected true at crash-durability.test.ts:285',
            );
          } finally {
            await repo.close();
          }
        } finally {
          await b.kill();
        }
      });
    }
  });

  describe(`a SIGKILLed seeding run on ${kind}`, () => {
    // PostgreSQL commits a batch in one statement, so it seeds quickly: more batches give the kill
    // a chance to land inside one
    const BATCH = 50,
      TOTAL = kind === 'postgres' ? 3000 : 600,
      SEED_FOR_KILL = 11;

    it('leaves only whole batches: the store reopens, the audit chain verifies, every seeded patient is whole, and seed resumes', async (t) => {
      const { config: target, cleanup } = await isolatedStoreConfig(kind);
      let poller:
        | { count(): Promise<number>; writerBusy(): Promise<boolean>; close(): Promise<void> }
        | undefined;
      try {
        // the seeding routine of `openspine seed`, in a child process, with small batches so a kill
        // lands between and inside many
        const url = (p: string) => JSON.stringify(pathToFileURL(join(REPO_ROOT, p)).href);
        const code = `(async () => {
          const { openRepository } = await import(${url('src/store/open.ts')});
          const { seedPatients } = await import(${url('src/seed/seed-patients.ts')});
          const repo = await openRepository(JSON.parse(process.argv[1]));
          await seedPatients(repo, { patients: ${TOTAL}, seed: ${SEED_FOR_KILL}, batchSize: ${BATCH} });
          await repo.close();
        })().catch((e) => { console.error(e); process.exitCode = 1; });`;
        const seeding = spawnTsx(code, [JSON.stringify(target)]);
        poller =
          kind === 'sqlite'
            ? sqlitePoller(join(target.dataDir, 'openspine.db'))
            : postgresPoller(target);
        let exitedFirst = false;
        void seeding.exited.then(() => {
          exitedFirst = true;
        });
        // once some batches are in, kill the child at a moment it holds the store's write lock (inside a batch)
        let busyAtKill = false;
        while (!exitedFirst && (await poller.count()) < 3 * BATCH)
          await new Promise((r) => setTimeout(r, 10));
        const deadline = Date.now() + 10_000;
        while (!exitedFirst && Date.now() < deadline) {
          // busy now and still busy a moment later: well inside a batch, not at its first statement
          const stillBusy = async () => {
            await new Promise((r) => setTimeout(r, kind === 'postgres' ? 20 : 1));
            return poller!.writerBusy();
          };
          if ((await poller.writerBusy()) && (await stillBusy())) {
            busyAtKill = true;
            break;
          }
          await new Promise((r) => setImmediate(r));
        }
        seeding.child.kill('SIGKILL');
        const exit = await seeding.exited;
        await poller.close();
        poller = undefined;
        assert.equal(
          exit.signal,
          'SIGKILL',
          `seeding ended by itself before the kill: ${seeding.stderr()}`,
        );
        assert.ok(busyAtKill, 'the kill landed while a batch was being written');

        const verified = await auditVerify(target);
        assert.equal(verified.code, 0, verified.out);

        const repo = await openRepository(target);
        let n: number;
        try {
          n = await repo.count(PATIENT);
          assert.ok(n >= 3 * BATCH && n < TOTAL, `${n} patients`);
          t.diagnostic(`killed inside a batch with ${n} of ${TOTAL} patients committed`);
          assert.equal(n % BATCH, 0, `${n} patients is not a whole number of batches`);
          assert.equal(verified.entries, n / BATCH, 'one audit entry per committed batch');
          const gen = createPatientGenerator(SEED_FOR_KILL);
          let related = 0;
          for (let i = 0; i < n; i++) {
            const g = gen.generate(i);
            const id = g.patient.id!;
            const stored = await repo.read(PATIENT, id);
            assert.ok(stored, `patient ${i} (${id}) missing`);
            assert.equal(stored.version, 1);
            const { meta, ...rest } = stored.resource;
            const { meta: genMeta, ...genRest } = g.patient;
            assert.deepEqual(rest, genRest);
            assert.deepEqual(meta!.security, genMeta?.security);
            assert.deepEqual(
              await repo.search({
                type: PATIENT,
                criteria: [{ any: [{ param: 'identifier', op: 'eq', value: id }] }],
                limit: 2,
              }),
              [id],
            );
            assert.deepEqual(
              await repo.search({
                type: PATIENT,
                criteria: [
                  { any: [{ param: 'birthdate', op: 'eq', value: g.patient.birthDate! }] },
                  { any: [{ param: 'identifier', op: 'eq', value: id }] },
                ],
                limit: 2,
              }),
              [id],
            );
            const rp = await repo.search({
              type: RELATED_PERSON,
              criteria: [{ any: [{ param: 'patient', op: 'eq', value: id }] }],
              limit: 100,
            });
            assert.deepEqual(rp, g.relatedPersons.map((r) => r.id!).sort());
            related += rp.length;
          }
          assert.equal(await repo.count(RELATED_PERSON), related);
          // nothing of the batch that was being written when the process died
          const nextBatch = Array.from(
            { length: BATCH },
            (_, k) => gen.generate(n + k).patient.id!,
          );
          assert.deepEqual(await repo.readMany(PATIENT, nextBatch), []);
        } finally {
          await repo.close();
        }

        // the real CLI resumes: the present patients are skipped, never duplicated
        const resumed = await runCli([
          'seed',
          '--patients',
          String(TOTAL),
          '--seed',
          String(SEED_FOR_KILL),
          ...storeFlags(target),
        ]);
        assert.equal(resumed.code, 0, resumed.stderr);
        assert.match(
          resumed.stdout,
          new RegExp(`seeded ${TOTAL - n} patients \\(${n} already present\\)`),
        );
        const again = await openRepository(target);
        try {
          assert.equal(await again.count(PATIENT), TOTAL);
        } finally {
          await again.close();
        }
      } finally {
        await poller?.close();
        await killAllChildren();
        await cleanup();
      }
    });
  });
}

/**
 * Watches a seeding child from outside: how many patients are committed (through a connection of its
 * own; the file appears when the child opens it) and whether a writer holds the write lock right now.
 */
function sqlitePoller(file: string) {
  let db: Database.Database | undefined;
  const open = () => {
    if (!db && existsSync(file)) {
      db = new Database(file, { fileMustExist: true });
      db.pragma('busy_timeout = 0');
    }
    return db;
  };
  return {
    async count() {
      try {
        return (
          (
            open()?.prepare("SELECT count(*) AS n FROM resources WHERE rtype = 'Patient'").get() as
              { n: number } | undefined
          )?.n ?? 0
        );
      } catch {
        return 0; // not migrated yet
      }
    },
    /** True when another connection holds the RESERVED lock, i.e. is inside a write transaction. */
    async writerBusy() {
      const conn = open()!;
      try {
        conn.exec('BEGIN IMMEDIATE');
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_BUSY') return true;
        throw err;
      }
      conn.exec('ROLLBACK');
      return false;
    },
    async close() {
      db?.close();
      db = undefined;
    },
  };
}

function postgresPoller(target: StoreTarget) {
  const client = new pg.Client({ connectionString: target.databaseUrl });
  const connected = client.connect();
  return {
    async count() {
      await connected;
      try {
        const { rows } = await client.query(
          `SELECT count(*)::int AS n FROM "${target.databaseSchema}".resources WHERE rtype = 'Patient'`,
        );
        return rows[0].n as number;
      } catch {
        return 0; // not migrated yet
      }
    },
    /** True when another session has written to the schema's resource_versions in a transaction still open. */
    async writerBusy() {
      await connected;
      const { rows } = await client.query(
        `SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = $1 AND c.relname = 'resource_versions' AND l.mode = 'RowExclusiveLock' AND l.pid <> pg_backend_pid()) AS busy`,
        [target.databaseSchema],
      );
      return rows[0].busy as boolean;
    },
    async close() {
      await connected.catch(() => {});
      await client.end().catch(() => {});
    },
  };
}
