/**
 * e-RS booking across real processes, on both stores:
 * - the CLI publishes and withdraws slots (`openspine ers-slots`), idempotently;
 * - the last-slot race: three `openspine serve` processes on one store, three referrers booking
 *   the one remaining slot of a service at the same moment through different servers: exactly one
 *   books it, the others get e-RS's 422 SLOT_NOT_AVAILABLE, and the slot is booked once;
 * - a SIGKILL mid-booking: a server killed while bookings stream in leaves every referral and slot
 *   in the old state (slot free, referral NOT_BOOKED, no appointment) or the new (slot busy,
 *   referral BOOKED, its appointment booked into that slot), never a mix; acknowledged bookings
 *   are all there, and a restarted server carries on.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { loadOrCreateSigningKey, mintToken } from '../src/security/embedded-idp.js';
import { openRepository } from '../src/store/open.js';
import type { Repository } from '../src/store/repository.js';
import {
  killAllChildren,
  runCli,
  startChildServer,
  storeFlags,
  type ChildServer,
  type StoreTarget,
} from './helpers/child-server.js';
import {
  addErsServices,
  appointmentBody,
  createBody,
  DBS_PROFILE,
  PROVIDER,
  PUBLISHED_PATIENT,
  REFERRER,
} from './helpers/ers-booking.js';
import { commitPatients, currentJane, withNhsNumber } from './helpers/pds-fixtures.js';
import { isolatedStoreConfig, storesUnderTest } from './helpers/stores.js';

after(killAllChildren);
const STU3 = '/referrals/FHIR/STU3';
const RACERS = 3;
const ROUNDS = 4;
const CRASH_BOOKINGS = 40;
const KILL_AFTER_ACKS = 12;

interface Answer {
  status: number;
  body: any;
}

/** One e-RS request over HTTP as the referrer (or the provider, for the management API). */
async function call(
  base: string,
  token: string,
  opts: {
    method?: string;
    path: string;
    body?: unknown;
    ods?: string;
    headers?: Record<string, string>;
  },
): Promise<Answer> {
  const headers: Record<string, string> = {
    'x-request-id': randomUUID(),
    authorization: `Bearer ${token}`,
    'nhsd-ers-business-function': 'REFERRING_CLINICIAN',
    'nhsd-end-user-organisation-ods': opts.ods ?? REFERRER,
    'nhsd-ers-comm-rule-org': 'R69',
    ...opts.headers,
  };
  if (opts.body !== undefined) headers['content-type'] = 'application/fhir+json';
  const res = await fetch(base + opts.path, {
    method: opts.method ?? 'GET',
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const codeOf = (a: Answer) => a.body?.issue?.[0]?.details?.coding?.[0]?.code;
const tomorrow = () => new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
const stateOf = (referral: any): string =>
  referral.extension
    .find((e: any) => e.url.endsWith('Extension-eRS-ReferralState-1'))
    .extension.find((e: any) => e.url === 'state').valueCoding.code;
const appointmentRef = (referral: any): string | undefined =>
  referral.extension
    .find((e: any) => e.url.endsWith('Extension-eRS-Appointment-Reference-1'))
    ?.valueReference.reference.replace('Appointment/', '');

for (const kind of await storesUnderTest()) {
  describe(`e-RS booking across processes on ${kind}`, () => {
    let target: StoreTarget;
    let cleanup: () => Promise<void>;
    let referrer: string, provider: string;
    const servers: ChildServer[] = [];

    before(async () => {
      ({ config: target, cleanup } = await isolatedStoreConfig(kind));
      const repo = await openRepository(target);
      try {
        await commitPatients(repo, [withNhsNumber(currentJane(), PUBLISHED_PATIENT)]);
        await addErsServices(repo);
      } finally {
        await repo.close();
      }
      const key = await loadOrCreateSigningKey(target.dataDir);
      referrer = await mintToken(key, {
        userId: 'gp-1',
        role: 'R8000',
        org: REFERRER,
        audience: 'openspine',
      });
      provider = await mintToken(key, {
        userId: 'trust-1',
        role: 'R8000',
        org: PROVIDER,
        audience: 'openspine',
      });
    });
    after(async () => {
      for (const s of servers) await s.kill();
      await cleanup?.();
    });

    const newReferral = async (base: string) => {
      const res = await call(base, referrer, {
        method: 'POST',
        path: `${STU3}/ReferralRequest/$ers.createReferral`,
        body: createBody(['11000', '11021']),
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body.id as string;
    };
    const freeSlots = async (base: string, service: string) => {
      const res = await call(base, referrer, {
        path: `${STU3}/Slot?schedule.actor:HealthcareService=${service}&appointmentType=URGENT&status=free&_count=100&page=1`,
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body.entry
        .filter((e: any) => e.resource.resourceType === 'Slot')
        .map((e: any) => e.resource.id);
    };

    it('the CLI publishes a run of slots once, withdraws a free one, and refuses what the API refuses', async () => {
      const publish = (service: string, times: string) =>
        runCli([
          'ers-slots',
          'publish',
          ...storeFlags(target),
          '--service',
          service,
          '--from',
          tomorrow(),
          '--days',
          '1',
          '--times',
          times,
          '--duration',
          '30',
          '--all-days',
        ]);
      const first = await publish('11021', '08:00,08:30');
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, /published 2 slots for service 11021 \(0 already published\)/);
      const again = await publish('11021', '08:00,08:30');
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /published 0 slots for service 11021 \(2 already published\)/);
      const triage = await publish('50001', '08:00');
      assert.equal(triage.code, 1);
      assert.match(triage.stderr, /not directly bookable/);
      const usage = await publish('11021', '8 am');
      assert.equal(usage.code, 2);
      const stamp = tomorrow().replace(/-/g, '');
      const withdraw = await runCli([
        'ers-slots',
        'withdraw',
        `11021-${stamp}0800-1`,
        ...storeFlags(target),
      ]);
      assert.equal(withdraw.code, 0, withdraw.stderr);
      assert.match(withdraw.stdout, /withdrawn: Slot\/11021-\d{12}-1/);
      const unknown = await runCli([
        'ers-slots',
        'withdraw',
        '11021-209901010800-1',
        ...storeFlags(target),
      ]);
      assert.equal(unknown.code, 1);
      // what is left of the run is one free slot, and the demo run adds the directly bookable services' slots
      const demo = await runCli(['ers-slots', 'demo', ...storeFlags(target)]);
      assert.equal(demo.code, 0, demo.stderr);
      assert.match(demo.stdout, /published \d+ demo slots/);
      const demoAgain = await runCli(['ers-slots', 'demo', ...storeFlags(target)]);
      assert.match(demoAgain.stdout, /published 0 demo slots/, 'a second demo run adds nothing');
    });

    it('three servers racing for the last slot: exactly one books it, the others are refused as e-RS refuses', async () => {
      // a service of its own, added after the demo run, whose only free slot is the one published each round
      const service = '13000';
      const repo0 = await openRepository(target);
      await addErsServices(repo0, { [service]: ['RYJ01', DBS_PROFILE, 'Racing Cardiology'] });
      await repo0.close();
      for (let i = 0; i < RACERS; i++) servers.push(await startChildServer(target));
      for (let round = 0; round < ROUNDS; round++) {
        const run = {
          service,
          from: tomorrow(),
          days: 1,
          times: [`0${round}:15`],
          durationMinutes: 15,
          weekdaysOnly: false,
        };
        const otherTrust = await mintToken(await loadOrCreateSigningKey(target.dataDir), {
          userId: 'trust-2',
          role: 'R8000',
          org: 'RYJ01',
          audience: 'openspine',
        });
        const pub = await call(servers[0].url, otherTrust, {
          method: 'POST',
          path: '/referrals/manage/Slot/$publish',
          body: run,
        });
        assert.equal(pub.status, 201, JSON.stringify(pub.body));
        const free = await freeSlots(servers[1].url, service);
        assert.equal(free.length, 1, 'one slot left');
        const racing = await Promise.all(
          servers.map(async () => {
            const res = await call(servers[0].url, referrer, {
              method: 'POST',
              path: `${STU3}/ReferralRequest/$ers.createReferral`,
              body: createBody([service]),
            });
            assert.equal(res.status, 201, JSON.stringify(res.body));
            return res.body.id as string;
          }),
        );
        const answers = await Promise.all(
          racing.map((ubrn, i) =>
            call(servers[i].url, referrer, {
              method: 'POST',
              path: `${STU3}/Appointment`,
              body: appointmentBody('MinimalBooking', ubrn, 1, { slot: free[0], service }),
            }),
          ),
        );
        const statuses = answers.map((a) => a.status).sort();
        assert.deepEqual(
          statuses,
          [201, ...Array(RACERS - 1).fill(422)],
          JSON.stringify(answers).slice(0, 800),
        );
        for (const lost of answers.filter((a) => a.status === 422))
          assert.equal(codeOf(lost), 'SLOT_NOT_AVAILABLE', JSON.stringify(lost.body));
        assert.deepEqual(await freeSlots(servers[2].url, service), [], 'no slot left');
        const states = await Promise.all(
          racing.map(async (ubrn) =>
            stateOf(
              (await call(servers[0].url, referrer, { path: `${STU3}/ReferralRequest/${ubrn}` }))
                .body,
            ),
          ),
        );
        assert.deepEqual(states.sort(), ['BOOKED', ...Array(RACERS - 1).fill('NOT_BOOKED')]);
      }
      // in the store: every slot of the service booked by exactly one booked appointment
      const repo = await openRepository(target);
      try {
        const booked = await repo.searchResources({
          type: 'Appointment',
          criteria: [{ any: [{ param: 'service', op: 'eq', value: service }] }],
          limit: 1000,
        });
        const bySlot = new Map<string, number>();
        for (const a of booked)
          if (a.resource.status === 'booked')
            bySlot.set(
              a.resource.slot[0].reference,
              (bySlot.get(a.resource.slot[0].reference) ?? 0) + 1,
            );
        assert.equal(bySlot.size, ROUNDS);
        assert.deepEqual([...new Set(bySlot.values())], [1], 'each slot booked once');
      } finally {
        await repo.close();
      }
    });

    it('a server SIGKILLed mid-booking leaves each booking all there or not there at all', async () => {
      for (const s of servers.splice(0)) await s.kill();
      let server = await startChildServer(target);
      // slots and referrals for the bookings to come
      const pub = await call(server.url, provider, {
        method: 'POST',
        path: '/referrals/manage/Slot/$publish',
        body: {
          service: '11000',
          from: tomorrow(),
          days: 1,
          times: Array.from(
            { length: CRASH_BOOKINGS },
            (_, i) =>
              `${String(8 + Math.floor(i / 6)).padStart(2, '0')}:${String((i % 6) * 10).padStart(2, '0')}`,
          ),
          durationMinutes: 10,
          weekdaysOnly: false,
        },
      });
      assert.equal(pub.status, 201, JSON.stringify(pub.body));
      const slots = (await freeSlots(server.url, '11000')).slice(0, CRASH_BOOKINGS);
      assert.equal(slots.length, CRASH_BOOKINGS);
      const ubrns: string[] = [];
      for (let i = 0; i < CRASH_BOOKINGS; i++) ubrns.push(await newReferral(server.url));

      const acked = new Set<string>();
      let next = 0,
        killed = false,
        acks = 0;
      const unexpected: string[] = [];
      const victim = server;
      const worker = async () => {
        while (!killed && next < CRASH_BOOKINGS) {
          const i = next++;
          try {
            const res = await call(victim.url, referrer, {
              method: 'POST',
              path: `${STU3}/Appointment`,
              body: appointmentBody('MinimalBooking', ubrns[i], 1, { slot: slots[i] }),
            });
            if (res.status === 201) acked.add(ubrns[i]);
            else if (!killed)
              unexpected.push(`${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
          } catch (err) {
            if (!killed) unexpected.push((err as Error).message);
          }
          if (++acks >= KILL_AFTER_ACKS && !killed) {
            killed = true;
            victim.child.kill('SIGKILL');
          }
        }
      };
      await Promise.all(Array.from({ length: 4 }, worker));
      const exit = await victim.exited;
      assert.deepEqual(unexpected, [], 'no failure before the kill');
      assert.equal(exit.signal, 'SIGKILL', 'killed, not stopped');

      const repo: Repository = await openRepository(target);
      let bookedCount = 0;
      try {
        for (let i = 0; i < CRASH_BOOKINGS; i++) {
          const ref = (await repo.read('ReferralRequest', ubrns[i]))!;
          const slot = (await repo.read('Slot', slots[i]))!;
          const apptId = appointmentRef(ref.resource);
          const appt = apptId ? await repo.read('Appointment', apptId) : null;
          const state = stateOf(ref.resource);
          if (state === 'BOOKED') {
            bookedCount++;
            assert.equal(slot.resource.status, 'busy', `${ubrns[i]} booked, its slot busy`);
            assert.equal(appt?.resource.status, 'booked');
            assert.equal(appt?.resource.slot[0].reference, `Slot/${slots[i]}`);
            assert.equal(ref.version, 2);
          } else {
            assert.equal(state, 'NOT_BOOKED');
            assert.ok(!acked.has(ubrns[i]), `acknowledged booking ${ubrns[i]} lost`);
            assert.equal(slot.resource.status, 'free', `${ubrns[i]} not booked, its slot free`);
            assert.equal(apptId, undefined);
            assert.equal(
              await repo.read('Appointment', `${ubrns[i]}-1`),
              null,
              'no appointment left behind',
            );
            assert.equal(ref.version, 1);
          }
        }
      } finally {
        await repo.close();
      }
      assert.ok(
        bookedCount >= acked.size && bookedCount < CRASH_BOOKINGS,
        `${bookedCount} booked, ${acked.size} acknowledged`,
      );
      // the restarted server carries on: the bookings not made can be made now
      server = await startChildServer(target);
      servers.push(server);
      for (let i = 0; i < CRASH_BOOKINGS; i++) {
        const r = await call(server.url, referrer, { path: `${STU3}/ReferralRequest/${ubrns[i]}` });
        if (stateOf(r.body) === 'BOOKED') continue;
        const res = await call(server.url, referrer, {
          method: 'POST',
          path: `${STU3}/Appointment`,
          body: appointmentBody('MinimalBooking', ubrns[i], 1, { slot: slots[i] }),
        });
        assert.equal(res.status, 201, JSON.stringify(res.body));
      }
      assert.deepEqual(
        await freeSlots(server.url, '11000').then((s) =>
          s.filter((id: string) => slots.includes(id)),
        ),
        [],
      );
    });
  });
}
