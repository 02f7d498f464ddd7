/**
 * Audit under load: a real `openspine serve` answers PDS reads offered at 5,000 requests/s and is
 * SIGKILLed mid-stream. Every read that was answered 200 must have its audit entry in the store
 * afterwards (reads are answered only once their group-committed entry is durable), and the
 * chain must verify. The rate reached is printed, not asserted (no timing assertions in tests).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { ChainVerifier } from '../src/audit/chain.js';
import { loadOrCreateSigningKey, mintToken } from '../src/security/embedded-idp.js';
import { isRestricted } from '../src/services/pds/patient-model.js';
import { createPatientGenerator } from '../src/seed/patient-generator.js';
import { seedPatients } from '../src/seed/seed-patients.js';
import { openRepository } from '../src/store/open.js';
import { killAllChildren, PDS_PATH, startChildServer } from './helpers/child-server.js';
import { isolatedStoreConfig, storesUnderTest } from './helpers/stores.js';

const OFFERED_PER_SECOND = 5000;
const LOAD_MS = 2000;
const TICK_MS = 10;
const MAX_IN_FLIGHT = 256;

after(killAllChildren);

for (const kind of await storesUnderTest()) {
  describe(`audit under load, SIGKILL (${kind})`, () => {
    it(`keeps the audit entry of every answered read offered at ${OFFERED_PER_SECOND}/s`, async () => {
      const { config: target, cleanup } = await isolatedStoreConfig(kind);
      try {
        const seeded = await openRepository(target);
        await seedPatients(seeded, { patients: 50, seed: 3 });
        await seeded.close();
        const gen = createPatientGenerator(3);
        const ids = Array.from({ length: 50 }, (_, i) => gen.generate(i).patient)
          .filter((p) => !isRestricted(p))
          .map((p) => p.id!);
        const key = await loadOrCreateSigningKey(target.dataDir);
        const token = await mintToken(key, {
          userId: 'load-reader',
          role: 'R8000',
          org: 'A81001',
          audience: 'openspine',
        });

        const server = await startChildServer(target, ['--rate-limit-user', '0']);
        const { hostname, port } = new URL(server.url);
        const agent = new Agent({ keepAlive: true, maxSockets: 64 });
        const answered = new Set<string>();
        const failures: string[] = [];
        let sent = 0,
          inFlight = 0,
          killed = false;

        const readOne = () => {
          const requestId = randomUUID();
          const path = `${PDS_PATH}/Patient/${ids[sent % ids.length]}`;
          sent++;
          inFlight++;
          const req = request(
            {
              host: hostname,
              port,
              path,
              agent,
              headers: { authorization: `Bearer ${token}`, 'x-request-id': requestId },
            },
            (res) => {
              res.resume();
              res.on('end', () => {
                inFlight--;
                if (res.statusCode === 200) answered.add(requestId);
                else if (!killed) failures.push(`status ${res.statusCode}`);
              });
              res.on('error', () => {
                inFlight--;
              });
            },
          );
          req.on('error', () => {
            inFlight--;
            if (!killed) failures.push('connection error before the kill');
          });
          req.end();
        };

        const started = performance.now();
        await new Promise<void>((resolve) => {
          const perTick = (OFFERED_PER_SECOND * TICK_MS) / 1000;
          const timer = setInterval(() => {
            const elapsed = performance.now() - started;
            // keep the offered load on schedule (catch up after a slow tick), bounded by in-flight requests
            const due = Math.floor((elapsed / TICK_MS) * perTick) - sent;
            for (let k = 0; k < due && inFlight < MAX_IN_FLIGHT; k++) readOne();
            if (elapsed >= LOAD_MS) {
              clearInterval(timer);
              resolve();
            }
          }, TICK_MS);
        });
        const answeredBeforeKill = new Set(answered);
        killed = true;
        const elapsedS = (performance.now() - started) / 1000;
        await server.kill('SIGKILL');
        agent.destroy();
        console.log(
          `# ${kind}: offered ${OFFERED_PER_SECOND}/s for ${LOAD_MS} ms: sent ${sent}, answered 200 before SIGKILL ${answeredBeforeKill.size} (${Math.round(answeredBeforeKill.size / elapsedS)}/s), in flight at kill ${inFlight}`,
        );
        assert.deepEqual(failures, [], 'no refusals or errors before the kill');
        assert.ok(
          answeredBeforeKill.size > 200,
          `a real load was served: ${answeredBeforeKill.size} answered`,
        );

        const repo = await openRepository(target);
        try {
          const entries = await repo.audit.readAudit(0, 10_000_000);
          const audited = new Set(
            entries
              .filter((e) => e.record.action === 'pds.read' && e.record.userId === 'load-reader')
              .map((e) => e.record.requestId),
          );
          const lost = [...answeredBeforeKill].filter((id) => !audited.has(id));
          assert.equal(lost.length, 0, `${lost.length} answered reads have no audit entry`);
          const verifier = new ChainVerifier();
          for (const e of entries) verifier.push(e);
          const chain = verifier.finish();
          assert.ok(
            chain.ok,
            `the audit chain verifies after the kill: ${JSON.stringify(chain.brokenAt)}`,
          );
          assert.equal(
            (await repo.audit.auditHead()).seq,
            chain.checked,
            'the recorded head is the last entry',
          );
        } finally {
          await repo.close();
        }
      } finally {
        await cleanup();
      }
    });
  });
}
