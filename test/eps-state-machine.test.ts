/**
 * The EPS state machine, table-driven: every message from every state. An allowed message moves
 * the prescription to the expected state, appends an event, writes its audit entry and outbox
 * message; a refused one is a 4xx OperationOutcome naming the current state and changes nothing.
 * A cancellation is answered as EPS publishes it: refused with a 400 prescription-order-response
 * carrying the cancellation response code (R-) and nothing changed, or, with a dispenser, marked
 * for cancellation (R-0002 / R-0003: a 'cancellation-requested' event, the state unchanged).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sweepPrescriptions } from '../src/services/eps/expiry-sweep.js';
import type { PrescriptionStatus } from '../src/services/eps/state-machine.js';
import {
  cancellationCodes,
  codeOf,
  isCancellationResponse,
  type EpsClient,
  type EpsResponse,
} from './helpers/eps-client.js';
import { startEpsPlatform, type EpsPlatform } from './helpers/eps-platform.js';
import { day, prescriptionIn, storedIssue, type InState } from './helpers/eps-states.js';
import { storesUnderTest } from './helpers/stores.js';
import type { Repository } from '../src/store/repository.js';

type Message =
  'release' | 'return' | 'dispense' | 'withdraw' | 'claim' | 'cancel' | 'expire' | 'available';
const STATES: PrescriptionStatus[] = [
  'future',
  'to-be-dispensed',
  'with-dispenser',
  'with-dispenser-active',
  'dispensed',
  'not-dispensed',
  'claimed',
  'cancelled',
  'expired',
];
const TRANSITION_OF: Record<Message, string> = {
  release: 'released',
  return: 'returned',
  dispense: 'dispensed',
  withdraw: 'withdrawn',
  claim: 'claimed',
  cancel: 'cancelled',
  expire: 'expired',
  available: 'available',
};

/**
 * Allowed: the state reached. Refused over HTTP: the Spine code, or for a cancellation the
 * published cancellation response code (R-). Sweeps (expire, available) leave other states alone.
 */
const TABLE: Record<Message, Partial<Record<PrescriptionStatus, PrescriptionStatus | string>>> = {
  release: { 'to-be-dispensed': 'with-dispenser' },
  return: { 'with-dispenser': 'to-be-dispensed' },
  dispense: { 'with-dispenser': 'dispensed', 'with-dispenser-active': 'dispensed' },
  withdraw: {
    'with-dispenser-active': 'with-dispenser',
    dispensed: 'with-dispenser',
    'not-dispensed': 'with-dispenser',
  },
  claim: { dispensed: 'claimed', 'not-dispensed': 'claimed' },
  cancel: {
    future: 'cancelled',
    'to-be-dispensed': 'cancelled',
    'with-dispenser': 'R-0002',
    'with-dispenser-active': 'R-0003',
    dispensed: 'R-0004',
    'not-dispensed': 'R-0010',
    claimed: 'R-0004',
    cancelled: 'R-0006',
    expired: 'R-0005',
  },
  expire: {
    future: 'expired',
    'to-be-dispensed': 'expired',
    'with-dispenser': 'expired',
    'with-dispenser-active': 'expired',
  },
  available: { future: 'to-be-dispensed' },
};
const SWEEPS: Message[] = ['expire', 'available'];
/** Cancellation response codes that mark the issue for cancellation rather than refuse outright. */
const MARKS = ['R-0002', 'R-0003'];

async function send(
  eps: EpsClient,
  repo: Repository,
  message: Message,
  s: InState,
): Promise<EpsResponse | null> {
  const { p, nhs } = s;
  switch (message) {
    case 'release':
      return eps.release(p.ids.shortFormId);
    case 'return':
      return eps.returnToSpine(p.ids.shortFormId);
    case 'dispense':
      return eps.dispenseAll(p, nhs);
    case 'withdraw':
      return eps.withdraw(p.ids.shortFormId);
    case 'claim':
      return eps.claim(p, nhs);
    case 'cancel':
      return eps.cancel(p);
    case 'expire':
      await sweepPrescriptions(repo, new Date(Date.now() + 800 * 86_400_000));
      return null;
    case 'available':
      await sweepPrescriptions(repo, new Date(day(10) + 'T12:00:00Z'));
      return null;
  }
}

for (const kind of await storesUnderTest()) {
  describe(`EPS state machine on ${kind}`, () => {
    let t: EpsPlatform;
    before(async () => {
      t = await startEpsPlatform(kind);
    });
    after(async () => t.close());

    for (const message of Object.keys(TABLE) as Message[]) {
      for (const state of STATES) {
        const expected = TABLE[message][state];
        const allowed =
          expected !== undefined && !/^[A-Z_]+$/.test(expected) && !/^R-\d{4}$/.test(expected);
        const marked = expected !== undefined && MARKS.includes(expected);
        const label = allowed
          ? `-> ${expected}`
          : SWEEPS.includes(message)
            ? 'leaves it alone'
            : marked
              ? `not cancelled ${expected}, marked for cancellation`
              : `refused ${expected ?? 'INVALID_STATE_TRANSITION'}`;
        it(`${message} from ${state} ${label}`, async () => {
          const repo = t.platform.repo;
          const s = await prescriptionIn(t.eps, repo, state);
          const before = await storedIssue(repo, s.p.ids.shortFormId);
          const outboxBefore = (await repo.messaging.readOutbox(0, 100_000)).length;
          const res = await send(t.eps, repo, message, s);
          const after = await storedIssue(repo, s.p.ids.shortFormId);
          const outbox = await repo.messaging.readOutbox(0, 100_000);
          if (message === 'cancel' && allowed)
            assert.deepEqual(
              cancellationCodes(res!),
              s.p.ids.items.map(() => 'R-0001'),
              'every item cancelled (R-0001)',
            );
          if (marked) {
            assert.equal(
              res!.status,
              400,
              `not cancelled: ${JSON.stringify(res!.body).slice(0, 300)}`,
            );
            assert.ok(isCancellationResponse(res!), 'a prescription-order-response');
            assert.deepEqual(
              cancellationCodes(res!),
              s.p.ids.items.map(() => expected),
              `code: ${JSON.stringify(cancellationCodes(res!))}`,
            );
            assert.equal(after.version, before.version + 1, 'the mark is written');
            assert.equal(after.p.status, state, 'state unchanged');
            const event = after.p.events.at(-1)!;
            assert.deepEqual(
              [event.transition, event.from, event.to],
              ['cancellation-requested', state, state],
              'the mark is stored as an event',
            );
            assert.ok(
              after.p.items.every((i) => i.status !== 'cancelled'),
              'no item cancelled',
            );
            const mine = outbox
              .slice(outboxBefore)
              .filter(
                (m) => (m.body as { shortFormId: string }).shortFormId === s.p.ids.shortFormId,
              );
            assert.deepEqual(
              mine.map((m) => m.topic),
              ['eps.prescription.cancellation-requested'],
              'one outbox message naming the mark',
            );
            const audit = await repo.audit.readAudit(0, 1_000_000);
            assert.ok(
              audit.some(
                (a) =>
                  a.record.action === 'eps.prescription.cancellation-requested' &&
                  a.record.patient === s.nhs,
              ),
              'audited',
            );
          } else if (allowed) {
            if (res)
              assert.equal(res.status, 200, `accepted: ${JSON.stringify(res.body).slice(0, 300)}`);
            assert.equal(after.p.status, expected, `now ${expected}`);
            assert.equal(after.version, before.version + 1, 'one new version');
            const event = after.p.events.at(-1)!;
            assert.deepEqual(
              [event.transition, event.from, event.to],
              [TRANSITION_OF[message], state, expected],
              'the transition is stored as an event',
            );
            const mine = outbox
              .slice(outboxBefore)
              .filter(
                (m) => (m.body as { shortFormId: string }).shortFormId === s.p.ids.shortFormId,
              );
            assert.equal(mine.length, 1, 'one outbox message');
            assert.equal(
              mine[0].topic,
              `eps.prescription.${TRANSITION_OF[message]}`,
              'message topic names the transition',
            );
            assert.equal(mine[0].key, s.nhs, 'keyed by NHS Number');
            assert.equal(
              (mine[0].body as { status: string }).status,
              expected,
              'message carries the new status',
            );
            const audit = await repo.audit.readAudit(0, 1_000_000);
            assert.ok(
              audit.some(
                (a) =>
                  a.record.action === `eps.prescription.${TRANSITION_OF[message]}` &&
                  a.record.patient === s.nhs &&
                  (a.record.detail as { to?: string })?.to === expected,
              ),
              'audited',
            );
          } else {
            if (res && message === 'cancel') {
              assert.equal(
                res.status,
                400,
                `refused with 400, as published: ${JSON.stringify(res.body).slice(0, 300)}`,
              );
              assert.ok(isCancellationResponse(res), 'a prescription-order-response');
              assert.deepEqual(
                cancellationCodes(res),
                s.p.ids.items.map(() => expected),
                `code: ${JSON.stringify(cancellationCodes(res))}`,
              );
            } else if (res) {
              assert.ok(
                res.status >= 400 && res.status < 500,
                `refused with a 4xx, got ${res.status}`,
              );
              assert.equal(res.body.resourceType, 'OperationOutcome', 'an OperationOutcome');
              assert.equal(
                codeOf(res),
                expected ?? 'INVALID_STATE_TRANSITION',
                `code: ${JSON.stringify(res.body)}`,
              );
              assert.ok(
                res.body.issue[0].diagnostics.includes(`'${state}'`),
                `names the current state: ${res.body.issue[0].diagnostics}`,
              );
            }
            assert.equal(after.version, before.version, 'nothing changed');
            assert.equal(after.p.status, state, 'state unchanged');
            assert.ok(
              !outbox
                .slice(outboxBefore)
                .some(
                  (m) => (m.body as { shortFormId: string }).shortFormId === s.p.ids.shortFormId,
                ),
              'no message',
            );
          }
        });
      }
    }
  });
}
