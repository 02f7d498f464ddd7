/**
 * A real `openspine serve` SIGKILLed while EPS messages stream in: every prescription is found
 * in either the state before its in-flight message or the state after it, never in between: its
 * status, its event log, its audit entries and its outbox messages always agree, acknowledged
 * steps are all there, the audit chain verifies, and the restarted server carries on.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PRESCRIPTION, type EpsPrescription } from '../src/services/eps/prescription-model.js';
import { openRepository } from '../src/store/open.js';
import {
  killAllChildren,
  runCli,
  startChildServer,
  storeFlags,
  type ChildServer,
  type StoreTarget,
} from './helpers/child-server.js';
import { EpsClient, type Prescribed } from './helpers/eps-client.js';
import { httpSend, prepareEpsStore } from './helpers/eps-processes.js';
import { storesUnderTest } from './helpers/stores.js';

const stores = await storesUnderTest();
after(killAllChildren);

const WORKERS = 6;
const KILL_AFTER_ACKS = 60;
/** The lifecycle each worker drives, and the state each step leaves. */
const STEPS = ['prescribe', 'release', 'dispense', 'claim'] as const;
const REACHED = {
  prescribe: 'to-be-dispensed',
  release: 'with-dispenser',
  dispense: 'dispensed',
  claim: 'claimed',
} as const;

for (const kind of stores) {
  describe(`EPS transitions through a SIGKILL on ${kind}`, () => {
    let target: StoreTarget;
    let cleanup: () => Promise<void>;
    let server: ChildServer | undefined;
    let patients: string[] = [];
    let eps: EpsClient;

    before(async () => {
      const store = await prepareEpsStore(kind, 80);
      ({ target, cleanup, patients } = store);
      eps = new EpsClient(
        httpSend(() => server!.url),
        store.tokens,
        store.key,
      );
    });

    after(async () => {
      await server?.kill();
      await killAllChildren();
      await cleanup?.();
    });

    it('leaves each prescription in the old or the new state, consistent in every record', async () => {
      server = await startChildServer(target);
      const victim = server;
      const acked = new Map<string, { shortFormId: string; step: number }>(); // by patient: the last acknowledged step
      const inFlight = new Map<string, number>(); // by patient: the step whose answer never came
      const unexpected: string[] = [];
      let acks = 0,
        killed = false,
        next = 0,
        inFlightAtKill = 0;

      const worker = async () => {
        while (!killed && next < patients.length) {
          const nhs = patients[next++];
          let p: Prescribed | undefined;
          for (let step = 0; step < STEPS.length && !killed; step++) {
            inFlight.set(nhs, step);
            let status: number;
            try {
              if (step === 0) {
                p = await eps.prescribe({ nhsNumber: nhs });
                status = 200;
              } else {
                const res =
                  step === 1
                    ? await eps.release(p!.ids.shortFormId)
                    : step === 2
                      ? await eps.dispenseAll(p!, nhs)
                      : await eps.claim(p!, nhs);
                status = res.status;
                if (status !== 200)
                  unexpected.push(
                    `${STEPS[step]} answered ${status} ${JSON.stringify(res.body).slice(0, 200)}`,
                  );
              }
            } catch (err) {
              if (!killed)
                unexpected.push(`${STEPS[step]} failed before the kill: ${(err as Error).message}`);
              return; // the outcome of this step is unknown
            }
            if (status !== 200) return;
            inFlight.delete(nhs);
            acked.set(nhs, { shortFormId: p!.ids.shortFormId, step });
            if (++acks >= KILL_AFTER_ACKS && !killed) {
              killed = true;
              // answers already on their way still arrive after this (PostgreSQL answers a commit group together)
              inFlightAtKill = inFlight.size;
              victim.child.kill('SIGKILL');
            }
          }
        }
      };
      await Promise.all(Array.from({ length: WORKERS }, worker));
      const exit = await victim.exited;
      assert.deepEqual(unexpected, [], 'no failure before the kill');
      assert.equal(exit.signal, 'SIGKILL', 'killed, not stopped');
      assert.ok(inFlightAtKill >= 1, 'steps were in flight at the kill');

      const verify = await runCli(['audit', 'verify', ...storeFlags(target)]);
      assert.equal(verify.code, 0, `audit chain verifies: ${verify.stdout}${verify.stderr}`);

      const repo = await openRepository(target);
      try {
        const outbox = await repo.messaging.readOutbox(0, 1_000_000);
        const audit = await repo.audit.readAudit(0, 1_000_000);
        const ids = await repo.search({
          type: PRESCRIPTION,
          criteria: [{ any: [{ param: 'short-form', op: 'prefix', value: '' }] }],
          limit: 10_000,
        });
        const stored = (await repo.readMany(PRESCRIPTION, ids)).map((s) => ({
          version: s.version,
          p: s.resource as EpsPrescription,
        }));
        const byPatient = new Map(stored.map((s) => [s.p.nhsNumber, s]));
        let advancedUnanswered = 0;
        for (const nhs of patients) {
          const last = acked.get(nhs);
          const pending = inFlight.get(nhs);
          const s = byPatient.get(nhs);
          if (!s) {
            assert.ok(last === undefined, `${nhs}: an acknowledged prescription is missing`);
            continue;
          }
          const { p, version } = s;
          // consistent: status = last event; one version, one audit entry and one message per event
          assert.equal(
            p.events.at(-1)!.to,
            p.status,
            `${p.shortFormId}: status agrees with its last event`,
          );
          assert.deepEqual(
            p.events.map((e) => e.seq),
            p.events.map((_, i) => i + 1),
            'events without gaps',
          );
          assert.equal(version, p.events.length, `${p.shortFormId}: one version per event`);
          const messages = outbox.filter(
            (m) => (m.body as { shortFormId: string }).shortFormId === p.shortFormId,
          );
          assert.deepEqual(
            messages.map((m) => m.topic),
            p.events.map((e) => `eps.prescription.${e.transition}`),
            `${p.shortFormId}: one message per event, in order`,
          );
          const entries = audit.filter(
            (a) =>
              a.record.action.startsWith('eps.prescription.') &&
              (a.record.detail as { shortFormId?: string })?.shortFormId === p.shortFormId,
          );
          assert.equal(
            entries.length,
            p.events.length,
            `${p.shortFormId}: one audit entry per event`,
          );
          // old or new: the acknowledged state, or the one the unanswered message would make
          const ackedState = last === undefined ? null : REACHED[STEPS[last.step]];
          const newState = pending === undefined ? null : REACHED[STEPS[pending]];
          assert.ok(
            p.status === ackedState || p.status === newState,
            `${p.shortFormId}: '${p.status}' is neither the acknowledged '${ackedState}' nor the in-flight '${newState}'`,
          );
          if (p.status !== ackedState) advancedUnanswered++;
        }
        assert.ok(
          advancedUnanswered <= inFlight.size,
          'only in-flight messages may have committed unanswered',
        );
      } finally {
        await repo.close();
      }

      // the restarted server carries on: every in-flight prescription can take its next step
      server = await startChildServer(target);
      for (const [nhs] of inFlight) {
        const last = acked.get(nhs);
        if (!last) continue;
        const track = await eps.track('focus:identifier', last.shortFormId);
        assert.equal(
          track.status,
          200,
          `the tracker answers after the restart: ${JSON.stringify(track.body).slice(0, 200)}`,
        );
      }
      const fresh = patients[patients.length - 1];
      const p = await eps.prescribe({ nhsNumber: fresh });
      assert.equal(
        (await eps.release(p.ids.shortFormId)).status,
        200,
        'released after the restart',
      );
      assert.equal((await eps.dispenseAll(p, fresh)).status, 200, 'dispensed after the restart');
    });
  });
}
