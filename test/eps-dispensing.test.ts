/**
 * Dispensing: the release race (exactly one pharmacy wins), nominated release by several
 * terminals at once, partial and owing dispensing, withdrawal, return, claims exactly once,
 * idempotent notifications, item-level cancellation, and the dispensing refusals.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { cancellationCodes, codeOf, statusOf } from './helpers/eps-client.js';
import { startEpsPlatform, type EpsPlatform } from './helpers/eps-platform.js';
import { addPatient } from './helpers/eps-prescribing.js';
import { storedIssue } from './helpers/eps-states.js';
import { storesUnderTest } from './helpers/stores.js';

for (const kind of await storesUnderTest()) {
  describe(`EPS dispensing on ${kind}`, () => {
    let t: EpsPlatform;
    before(async () => {
      t = await startEpsPlatform(kind);
    });
    after(async () => t.close());
    /**
     * What the tracker shows of the prescription (a dispense notification or claim is answered with
     * an OperationOutcome only).
     */
    const tracked = async (p: { ids: { shortFormId: string } }) =>
      statusOf(await t.eps.track('focus:identifier', p.ids.shortFormId));
    const informational = (res: { status: number; body: any }) => [
      res.status,
      res.body?.issue?.[0]?.severity,
      res.body?.issue?.[0]?.code,
    ];

    it('two pharmacies racing to release one prescription: exactly one wins, every time', async () => {
      for (let round = 0; round < 8; round++) {
        const nhs = await addPatient(t.platform.repo, { nominated: null });
        const p = await t.eps.prescribe({ nhsNumber: nhs });
        const tokens = [
          t.eps.tokens.pharmacy,
          t.eps.tokens.otherPharmacy,
          t.eps.tokens.pharmacy,
          t.eps.tokens.otherPharmacy,
        ];
        const results = await Promise.all(
          tokens.map((tok) => t.eps.release(p.ids.shortFormId, tok)),
        );
        const winners = results.filter((r) => r.status === 200);
        assert.equal(
          winners.length,
          1,
          `exactly one release succeeded: ${results.map((r) => r.status)}`,
        );
        const winner =
          tokens[results.findIndex((r) => r.status === 200)] === t.eps.tokens.pharmacy
            ? 'FLE79'
            : 'FCX22';
        for (const [i, loser] of results.entries()) {
          if (loser.status === 200) continue;
          const sameAsWinner = (tokens[i] === t.eps.tokens.pharmacy ? 'FLE79' : 'FCX22') === winner;
          // as EPS publishes it: the other pharmacy is told who holds it; the winner's own second
          // request meets the state
          assert.equal(
            loser.status,
            sameAsWinner ? 409 : 400,
            `the others are refused: ${JSON.stringify(loser.body).slice(0, 300)}`,
          );
          assert.equal(
            codeOf(loser),
            sameAsWinner ? 'INVALID_STATE_TRANSITION' : 'PRESCRIPTION_WITH_ANOTHER_DISPENSER',
            JSON.stringify(loser.body),
          );
          assert.ok(
            loser.body.issue[0].diagnostics.includes("'with-dispenser'"),
            'naming the state',
          );
          if (!sameAsWinner)
            assert.equal(
              loser.body.contained?.[0]?.identifier?.[0]?.value,
              winner,
              'naming the pharmacy that holds it',
            );
        }
        const { p: stored } = await storedIssue(t.platform.repo, p.ids.shortFormId);
        assert.equal(
          stored.events.filter((e) => e.transition === 'released').length,
          1,
          'released once',
        );
        assert.equal(stored.dispenser, winner, 'held by the winner');
      }
    });

    it('terminals of one pharmacy releasing its nominated queue at once take each prescription exactly once', async () => {
      const pharmacy = await t.platform.token('R8003', { user: 'pharmacist-q', org: 'FQU11' });
      const shortIds = new Set<string>();
      for (let i = 0; i < 12; i++) {
        const nhs = await addPatient(t.platform.repo, { nominated: 'FQU11' });
        shortIds.add((await t.eps.prescribe({ nhsNumber: nhs })).ids.shortFormId);
      }
      const batches = await Promise.all([0, 1, 2].map(() => t.eps.release(undefined, pharmacy, 5)));
      const more = await t.eps.release(undefined, pharmacy, 50);
      const released = [...batches, more].flatMap((b) => {
        assert.equal(b.status, 200, JSON.stringify(b.body).slice(0, 300));
        return b.body.entry.map(
          (e: any) =>
            e.resource.entry.find((x: any) => x.resource.resourceType === 'MedicationRequest')
              .resource.groupIdentifier.value,
        );
      });
      assert.equal(released.length, 12, `12 released in all: ${released.length}`);
      assert.deepEqual(new Set(released), shortIds, 'each exactly once');
      assert.equal((await t.eps.release(undefined, pharmacy, 5)).body.total, 0, 'queue empty');
    });

    it('partial, then owing, then the rest: with dispenser - active until every item is settled', async () => {
      const nhs = await addPatient(t.platform.repo);
      const p = await t.eps.prescribe({ nhsNumber: nhs });
      const [a, b] = p.ids.items;
      await t.eps.release(p.ids.shortFormId);
      let res = await t.eps.dispense(p, nhs, [
        { item: a, code: '0003', quantity: 10 },
        { item: b, code: '0004', quantity: 0 },
      ]);
      assert.deepEqual(
        informational(res),
        [200, 'information', 'informational'],
        'answered as EPS publishes it',
      );
      assert.deepEqual(
        await tracked(p),
        { status: 'with-dispenser-active', items: ['partial', 'owing'] },
        JSON.stringify(await tracked(p)),
      );
      res = await t.eps.dispense(p, nhs, [{ item: a, code: '0001', quantity: 10 }]);
      assert.deepEqual(
        await tracked(p),
        { status: 'with-dispenser-active', items: ['dispensed', 'owing'] },
        'one item still owing',
      );
      res = await t.eps.dispense(p, nhs, [{ item: b, code: '0002', quantity: 0, reason: '0002' }]);
      assert.deepEqual(
        await tracked(p),
        { status: 'dispensed', items: ['dispensed', 'not-dispensed'] },
        'settled',
      );
      const { p: stored } = await storedIssue(t.platform.repo, p.ids.shortFormId);
      assert.equal(stored.items[0].supplied, 20, 'quantities add up');
      assert.equal(stored.items[1].reason?.code, '0002', 'reason kept');
      res = await t.eps.dispense(p, nhs, [{ item: a, code: '0001', quantity: 1 }]);
      assert.equal(res.status, 409, 'a settled prescription takes no more notifications');
    });

    it('a dispense notification sent twice is applied once', async () => {
      const nhs = await addPatient(t.platform.repo);
      const p = await t.eps.prescribe({ nhsNumber: nhs });
      await t.eps.release(p.ids.shortFormId);
      const id = randomUUID();
      const outcome = [{ item: p.ids.items[0], code: '0003' as const, quantity: 4 }];
      const first = await t.eps.dispense(p, nhs, outcome, undefined, id);
      const again = await t.eps.dispense(p, nhs, outcome, undefined, id);
      assert.equal(again.status, 200, 'accepted');
      assert.deepEqual(informational(again), informational(first), 'same answer');
      assert.deepEqual(
        await tracked(p),
        { status: 'with-dispenser-active', items: ['partial', 'with-dispenser'] },
        'applied once',
      );
      const { p: stored } = await storedIssue(t.platform.repo, p.ids.shortFormId);
      assert.equal(stored.items[0].supplied, 4, 'supplied once');
    });

    it('withdrawal takes back the latest notification only; items go back to what the others said', async () => {
      const nhs = await addPatient(t.platform.repo);
      const p = await t.eps.prescribe({ nhsNumber: nhs });
      const [a, b] = p.ids.items;
      await t.eps.release(p.ids.shortFormId);
      const first = randomUUID();
      await t.eps.dispense(p, nhs, [{ item: a, code: '0003', quantity: 5 }], undefined, first);
      await t.eps.dispense(p, nhs, [
        { item: a, code: '0001', quantity: 15 },
        { item: b, code: '0001', quantity: 20 },
      ]);
      let res = await t.eps.withdraw(p.ids.shortFormId, undefined, first);
      assert.equal(codeOf(res), 'INVALID_STATE_TRANSITION', 'not the latest');
      res = await t.eps.withdraw(p.ids.shortFormId);
      assert.deepEqual(
        statusOf(res),
        { status: 'with-dispenser-active', items: ['partial', 'with-dispenser'] },
        JSON.stringify(statusOf(res)),
      );
      res = await t.eps.withdraw(p.ids.shortFormId);
      assert.deepEqual(
        statusOf(res),
        { status: 'with-dispenser', items: ['with-dispenser', 'with-dispenser'] },
        'back to released',
      );
      res = await t.eps.withdraw(p.ids.shortFormId);
      assert.equal(res.status, 409, 'nothing left to withdraw');
    });

    it('return to Spine: unreleased, with the reason, back in the nominated queue and releasable by token', async () => {
      const nhs = await addPatient(t.platform.repo, { nominated: 'FRT44' });
      const pharmacy = await t.platform.token('R8003', { user: 'pharmacist-r', org: 'FRT44' });
      const p = await t.eps.prescribe({ nhsNumber: nhs });
      assert.equal(
        (await t.eps.release(undefined, pharmacy, 5)).body.total,
        1,
        'released from the queue',
      );
      assert.equal(
        (await t.eps.release(undefined, pharmacy, 5)).body.total,
        0,
        'gone from the queue',
      );
      const res = await t.eps.returnToSpine(p.ids.shortFormId, pharmacy);
      assert.deepEqual(
        statusOf(res),
        { status: 'to-be-dispensed', items: ['to-be-dispensed', 'to-be-dispensed'] },
        'available again',
      );
      const { p: stored } = await storedIssue(t.platform.repo, p.ids.shortFormId);
      assert.equal((stored.events.at(-1)!.detail as any).reason.code, '0002', 'reason recorded');
      assert.equal(stored.dispenser, undefined, 'no dispenser');
      assert.equal(
        (await t.eps.release(undefined, pharmacy, 5)).body.total,
        1,
        'back in the queue',
      );
      assert.equal(
        (await t.eps.returnToSpine(p.ids.shortFormId, pharmacy)).status,
        200,
        'returned again',
      );
      assert.equal(
        (await t.eps.release(p.ids.shortFormId, t.eps.tokens.otherPharmacy)).status,
        200,
        'another pharmacy takes it with the token',
      );
    });

    it('claims exactly once, with endorsements; the same claim again changes nothing', async () => {
      const nhs = await addPatient(t.platform.repo);
      const p = await t.eps.prescribe({ nhsNumber: nhs });
      await t.eps.release(p.ids.shortFormId);
      assert.equal((await t.eps.claim(p, nhs)).status, 409, 'nothing to claim before dispensing');
      await t.eps.dispenseAll(p, nhs);
      const claimId = randomUUID();
      const results = await Promise.all([
        t.eps.claim(p, nhs, undefined, claimId),
        t.eps.claim(p, nhs),
        t.eps.claim(p, nhs),
      ]);
      assert.equal(results.filter((r) => r.status === 200).length >= 1, true, 'one claim accepted');
      const { p: stored, version } = await storedIssue(t.platform.repo, p.ids.shortFormId);
      assert.equal(
        stored.events.filter((e) => e.transition === 'claimed').length,
        1,
        'claimed exactly once',
      );
      assert.deepEqual(
        stored.claim?.endorsements.map((e) => e.codes),
        [['NDEC'], ['NDEC']],
        'endorsements kept',
      );
      const same = await t.eps.claim(p, nhs, undefined, stored.claim!.id);
      assert.equal(same.status, 200, 'the accepted claim again: 200');
      assert.deepEqual(
        informational(same),
        [200, 'information', 'informational'],
        'answered as EPS publishes it',
      );
      assert.deepEqual((await tracked(p)).status, 'claimed', 'the tracker shows it claimed');
      assert.equal(
        (await storedIssue(t.platform.repo, p.ids.shortFormId)).version,
        version,
        'and nothing changed',
      );
      const other = await t.eps.claim(p, nhs);
      assert.equal(codeOf(other), 'INVALID_STATE_TRANSITION', 'a second claim is refused');
    });

    it('cancelling one item leaves the rest to dispense; cancelling after release marks it for cancellation (R-0002)', async () => {
      const nhs = await addPatient(t.platform.repo);
      const p = await t.eps.prescribe({ nhsNumber: nhs });
      const [a, b] = p.ids.items;
      let res = await t.eps.cancel(p, [a]);
      assert.equal(res.status, 200, JSON.stringify(res.body).slice(0, 400));
      assert.deepEqual(cancellationCodes(res), ['R-0001'], 'the item cancelled (R-0001)');
      let stored = (await storedIssue(t.platform.repo, p.ids.shortFormId)).p;
      assert.deepEqual(
        { status: stored.status, items: stored.items.map((i) => i.status) },
        { status: 'to-be-dispensed', items: ['cancelled', 'to-be-dispensed'] },
        'the other item still to dispense',
      );
      await t.eps.release(p.ids.shortFormId);
      res = await t.eps.cancel(p, [b]);
      assert.equal(res.status, 400, 'not cancelled');
      assert.deepEqual(
        cancellationCodes(res),
        ['R-0002'],
        'with dispenser, marked for cancellation',
      );
      stored = (await storedIssue(t.platform.repo, p.ids.shortFormId)).p;
      assert.deepEqual(
        [stored.status, stored.events.at(-1)!.transition, stored.items[1].status],
        ['with-dispenser', 'cancellation-requested', 'with-dispenser'],
        'the mark is stored; the item is not cancelled',
      );
      res = await t.eps.dispense(p, nhs, [{ item: b, code: '0001', quantity: 20 }]);
      assert.equal(res.status, 200, JSON.stringify(res.body).slice(0, 300));
      assert.deepEqual(
        await tracked(p),
        { status: 'dispensed', items: ['cancelled', 'dispensed'] },
        'the live item settles it',
      );
      res = await t.eps.dispense(p, nhs, [{ item: a, code: '0001', quantity: 1 }]);
      assert.equal(res.status, 409, 'a cancelled item cannot be dispensed');
    });

    it('refuses: unknown and malformed ids, another pharmacy, releasing to someone else, a not-dispensed item without a reason', async () => {
      const unknown = await t.eps.release('24F5DA-A83008-7EFE6Z');
      assert.deepEqual(
        [unknown.status, codeOf(unknown)],
        [400, 'RESOURCE_NOT_FOUND'],
        'unknown, as EPS publishes it',
      );
      assert.equal(
        codeOf(await t.eps.release('24F5DA-A83008-7EFE6Y')),
        'INVALID_PRESCRIPTION_ID',
        'bad check character',
      );
      const nhs = await addPatient(t.platform.repo);
      const p = await t.eps.prescribe({ nhsNumber: nhs });
      assert.equal(
        (await t.eps.release(p.ids.shortFormId, t.eps.tokens.pharmacy, undefined, 'FCX22')).status,
        403,
        'owner must be the caller',
      );
      await t.eps.release(p.ids.shortFormId);
      assert.equal(
        (await t.eps.dispenseAll(p, nhs, t.eps.tokens.otherPharmacy)).status,
        403,
        'another pharmacy cannot dispense it',
      );
      assert.equal(
        (await t.eps.returnToSpine(p.ids.shortFormId, t.eps.tokens.otherPharmacy)).status,
        403,
        'nor return it',
      );
      const res = await t.eps.dispense(p, nhs, [
        { item: p.ids.items[0], code: '0002', quantity: 0 },
      ]);
      assert.equal(codeOf(res), 'INVALID_CODE', 'reason required');
      assert.equal(
        (await t.eps.release(p.ids.shortFormId, t.eps.tokens.prescriber)).status,
        403,
        'a prescriber cannot release',
      );
    });

    it('the tracker shows the full history of every issue, by prescription and by patient', async () => {
      const nhs = await addPatient(t.platform.repo);
      const p = await t.eps.prescribe({ nhsNumber: nhs });
      await t.eps.release(p.ids.shortFormId);
      await t.eps.dispenseAll(p, nhs);
      const q = await t.eps.prescribe({ nhsNumber: nhs });
      let res = await t.eps.track(
        'focus:identifier',
        `https://fhir.nhs.uk/Id/prescription-order-number|${p.ids.shortFormId}`,
      );
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const history = res.body.entry[0].resource.extension
        .filter((e: any) => e.url.endsWith('eps-status-history'))
        .map((e: any) => e.extension.find((x: any) => x.url === 'to').valueCode);
      assert.deepEqual(history, ['to-be-dispensed', 'with-dispenser', 'dispensed'], 'full history');
      res = await t.eps.track('patient:identifier', nhs);
      assert.equal(res.body.total, 2, 'both prescriptions of the patient');
      assert.ok(JSON.stringify(res.body).includes(q.ids.shortFormId), 'including the new one');
      assert.equal(
        (await t.eps.track('focus:identifier', '24F5DA-A83008-7EFE6Z')).status,
        404,
        'unknown',
      );
      assert.equal((await t.eps.track(null)).status, 400, 'a search needs a parameter');
      const audit = await t.platform.repo.audit.readAudit(0, 1_000_000);
      assert.ok(
        audit.some((a) => a.record.action === 'eps.tracker.read' && a.record.patient === nhs),
        'tracker reads are audited',
      );
      const stranger = await t.platform.token('R8000', { user: 'dr-elsewhere', org: 'C82001' });
      assert.equal(
        codeOf(await t.eps.track('patient:identifier', nhs, stranger)),
        'NO_LEGITIMATE_RELATIONSHIP',
        'no relationship, no tracking',
      );
    });
  });
}
