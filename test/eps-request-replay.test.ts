/**
 * EPS writes go through the platform's one write path (src/services/eps/once-service.ts): a retry
 * with the same X-Request-ID is answered as the first request was and changes nothing more; the
 * same X-Request-ID on a different request is refused (400 INVALID_VALUE) and writes nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { cancellationCodes, codeOf, statusOf } from './helpers/eps-client.js';
import { startEpsPlatform, type EpsPlatform } from './helpers/eps-platform.js';
import { addPatient, cancellation, claimResource } from './helpers/eps-prescribing.js';
import { storesUnderTest } from './helpers/stores.js';

const shortFormsOf = (release: { body: any }): string[] =>
  release.body.entry.map(
    (e: any) =>
      e.resource.entry.find((x: any) => x.resource.resourceType === 'MedicationRequest').resource
        .groupIdentifier.value,
  );

const nominatedRelease = (maxCount: number) => ({
  resourceType: 'Parameters',
  parameter: [
    { name: 'status', valueCode: 'accepted' },
    { name: 'max-count', valueInteger: maxCount },
  ],
});

for (const kind of await storesUnderTest()) {
  describe(`EPS X-Request-ID replay on ${kind}`, () => {
    let t: EpsPlatform;
    before(async () => {
      t = await startEpsPlatform(kind);
    });
    after(async () => t.close());

    it('a prescription order sent again with its X-Request-ID is answered as before; the id on another order is refused', async () => {
      const nhs = await addPatient(t.platform.repo, { nominated: null });
      const signed = await t.eps.signedOrder({ nhsNumber: nhs });
      const id = randomUUID();
      const first = await t.eps.post('/$process-message', signed, t.eps.tokens.prescriber, id);
      const again = await t.eps.post('/$process-message', signed, t.eps.tokens.prescriber, id);
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.equal(again.status, 200, JSON.stringify(again.body));
      assert.equal(again.body.issue[0].diagnostics, first.body.issue[0].diagnostics);

      const other = await t.eps.signedOrder({ nhsNumber: nhs });
      const reused = await t.eps.post('/$process-message', other, t.eps.tokens.prescriber, id);
      assert.equal(reused.status, 400);
      assert.equal(codeOf(reused), 'INVALID_VALUE');
      const shortFormId = other.entry.find(
        (e: any) => e.resource.resourceType === 'MedicationRequest',
      ).resource.groupIdentifier.value;
      const tracked = await t.eps.track('focus:identifier', shortFormId);
      assert.equal(tracked.body.total ?? tracked.body.entry?.length ?? 0, 0, 'nothing written');
    });

    it('a nominated release retried answers with the same prescriptions and releases no more', async () => {
      const org = 'FRR01';
      const pharmacy = await t.platform.token('R8003', { user: 'pharmacist-rr', org });
      for (let i = 0; i < 4; i++) {
        const nhs = await addPatient(t.platform.repo, { nominated: org });
        await t.eps.prescribe({ nhsNumber: nhs });
      }
      const id = randomUUID();
      const first = await t.eps.post('/Task/$release', nominatedRelease(2), pharmacy, id);
      const again = await t.eps.post('/Task/$release', nominatedRelease(2), pharmacy, id);
      assert.equal(first.status, 200, JSON.stringify(first.body).slice(0, 300));
      assert.equal(again.status, 200, JSON.stringify(again.body).slice(0, 300));
      assert.equal(first.body.total, 2);
      assert.deepEqual(shortFormsOf(again).sort(), shortFormsOf(first).sort());
      const reused = await t.eps.post('/Task/$release', nominatedRelease(3), pharmacy, id);
      assert.equal(reused.status, 400);
      assert.equal(codeOf(reused), 'INVALID_VALUE');
      const rest = await t.eps.post('/Task/$release', nominatedRelease(10), pharmacy);
      assert.equal(rest.body.total, 2, 'the other two are still in the queue');
    });

    it('a cancellation, a return and a claim retried are answered as the first', async () => {
      const nhs = await addPatient(t.platform.repo, { nominated: null });
      const cancelled = await t.eps.prescribe({ nhsNumber: nhs });
      const cancelId = randomUUID();
      const message = cancellation(cancelled.signed);
      const first = await t.eps.post(
        '/$process-message',
        message,
        t.eps.tokens.prescriber,
        cancelId,
      );
      const again = await t.eps.post(
        '/$process-message',
        message,
        t.eps.tokens.prescriber,
        cancelId,
      );
      assert.equal(first.status, 200, JSON.stringify(first.body).slice(0, 300));
      assert.deepEqual(
        cancellationCodes(first),
        cancellationCodes(first).map(() => 'R-0001'),
      );
      assert.equal(again.status, first.status);
      assert.deepEqual(cancellationCodes(again), cancellationCodes(first));
      const resent = await t.eps.cancel(cancelled);
      assert.deepEqual(
        cancellationCodes(resent),
        cancellationCodes(first).map(() => 'R-0006'),
        'a new request with the same message is answered as EPS answers it: already cancelled',
      );

      const returned = await t.eps.prescribe({ nhsNumber: nhs });
      await t.eps.release(returned.ids.shortFormId);
      const returnId = randomUUID();
      const body = {
        resourceType: 'Parameters',
        parameter: [
          { name: 'group-identifier', valueIdentifier: { value: returned.ids.shortFormId } },
          { name: 'reason', valueCoding: { code: '0002' } },
        ],
      };
      const back = await t.eps.post('/Task/$return', body, t.eps.tokens.pharmacy, returnId);
      const backAgain = await t.eps.post('/Task/$return', body, t.eps.tokens.pharmacy, returnId);
      assert.equal(back.status, 200, JSON.stringify(back.body).slice(0, 300));
      assert.equal(backAgain.status, 200, JSON.stringify(backAgain.body).slice(0, 300));
      assert.deepEqual(statusOf(backAgain), statusOf(back));
      const secondReturn = await t.eps.post('/Task/$return', body, t.eps.tokens.pharmacy);
      assert.equal(secondReturn.status, 409, 'a new request to return it again is refused');

      const claimed = await t.eps.prescribe({ nhsNumber: nhs });
      await t.eps.release(claimed.ids.shortFormId);
      await t.eps.dispenseAll(claimed, nhs);
      const claimId = randomUUID();
      const claim = claimResource(claimed.ids.shortFormId, nhs, claimed.ids.items, randomUUID());
      const c1 = await t.eps.post('/Claim', claim, t.eps.tokens.pharmacy, claimId);
      const c2 = await t.eps.post('/Claim', claim, t.eps.tokens.pharmacy, claimId);
      assert.equal(c1.status, 200, JSON.stringify(c1.body).slice(0, 300));
      assert.equal(c2.status, 200, JSON.stringify(c2.body).slice(0, 300));
      const otherClaim = claimResource(
        claimed.ids.shortFormId,
        nhs,
        claimed.ids.items,
        randomUUID(),
      );
      const reused = await t.eps.post('/Claim', otherClaim, t.eps.tokens.pharmacy, claimId);
      assert.equal(reused.status, 400);
      assert.equal(codeOf(reused), 'INVALID_VALUE');
    });
  });
}
