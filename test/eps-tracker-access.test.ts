/**
 * Who may read the prescription tracker ('eps.track'): a dispenser with a relationship with the
 * patient (the nominated pharmacy, or the pharmacy that released the prescription by token), not a
 * pharmacy without one; a patient their own prescriptions and nobody else's.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mintPatientToken } from '../src/security/embedded-idp.js';
import { codeOf, type Prescribed } from './helpers/eps-client.js';
import { startEpsPlatform, type EpsPlatform } from './helpers/eps-platform.js';
import { addPatient } from './helpers/eps-prescribing.js';
import { storesUnderTest } from './helpers/stores.js';

const ORDER_NUMBER = 'https://fhir.nhs.uk/Id/prescription-order-number';

for (const kind of await storesUnderTest()) {
  describe(`EPS tracker access on ${kind}`, () => {
    let t: EpsPlatform;
    let unrelatedPharmacy: string;
    const patientToken = (nhs: string) =>
      mintPatientToken(t.platform.key, { nhsNumber: nhs, audience: t.platform.config.audience });
    const byPrescription = (p: Prescribed, token: string) =>
      t.eps.track('focus:identifier', `${ORDER_NUMBER}|${p.ids.shortFormId}`, token);
    const shortIdsIn = (body: any): string[] =>
      body.entry.map((e: any) => e.resource.groupIdentifier?.value ?? JSON.stringify(e.resource));

    before(async () => {
      t = await startEpsPlatform(kind);
      unrelatedPharmacy = await t.platform.token('R8003', { user: 'pharmacist-far', org: 'FZZ91' });
    });
    after(async () => t.close());

    it('the nominated pharmacy reads the tracker; a pharmacy with no relationship is refused', async () => {
      const nhs = await addPatient(t.platform.repo); // nominates FLE79 (t.eps.tokens.pharmacy)
      const p = await t.eps.prescribe({ nhsNumber: nhs });
      let res = await byPrescription(p, t.eps.tokens.pharmacy);
      assert.equal(
        res.status,
        200,
        `nominated pharmacy, by prescription: ${JSON.stringify(res.body).slice(0, 300)}`,
      );
      assert.equal(res.body.total, 1, 'the one issue');
      res = await t.eps.track('patient:identifier', nhs, t.eps.tokens.pharmacy);
      assert.equal(
        res.status,
        200,
        `nominated pharmacy, by patient: ${JSON.stringify(res.body).slice(0, 300)}`,
      );
      for (const refused of [
        await byPrescription(p, unrelatedPharmacy),
        await t.eps.track('patient:identifier', nhs, unrelatedPharmacy),
      ]) {
        assert.equal(
          refused.status,
          403,
          `no relationship: ${JSON.stringify(refused.body).slice(0, 300)}`,
        );
        assert.equal(
          codeOf(refused),
          'NO_LEGITIMATE_RELATIONSHIP',
          'refused for want of a relationship',
        );
      }
    });

    it('a pharmacy that released a prescription by token reads the tracker from then on, not before', async () => {
      const nhs = await addPatient(t.platform.repo, { nominated: null });
      const p = await t.eps.prescribe({ nhsNumber: nhs });
      const before = await byPrescription(p, t.eps.tokens.otherPharmacy);
      assert.equal(
        codeOf(before),
        'NO_LEGITIMATE_RELATIONSHIP',
        `no relationship before the token is presented: ${before.status}`,
      );
      const released = await t.eps.release(p.ids.shortFormId, t.eps.tokens.otherPharmacy);
      assert.equal(
        released.status,
        200,
        `released by token: ${JSON.stringify(released.body).slice(0, 300)}`,
      );
      const res = await byPrescription(p, t.eps.tokens.otherPharmacy);
      assert.equal(
        res.status,
        200,
        `the releasing pharmacy tracks it: ${JSON.stringify(res.body).slice(0, 300)}`,
      );
      const history = res.body.entry[0].resource.extension
        .filter((e: any) => e.url.endsWith('eps-status-history'))
        .map((e: any) => e.extension.find((x: any) => x.url === 'to').valueCode);
      assert.deepEqual(history, ['to-be-dispensed', 'with-dispenser'], 'with its history');
      assert.equal(
        codeOf(await byPrescription(p, unrelatedPharmacy)),
        'NO_LEGITIMATE_RELATIONSHIP',
        'still no one else',
      );
    });

    it("a patient reads their own prescriptions and is refused anyone else's", async () => {
      const mine = await addPatient(t.platform.repo);
      const theirs = await addPatient(t.platform.repo);
      const p = await t.eps.prescribe({ nhsNumber: mine });
      const q = await t.eps.prescribe({ nhsNumber: theirs });
      const token = await patientToken(mine);
      let res = await t.eps.track('patient:identifier', mine, token);
      assert.equal(res.status, 200, `own prescriptions: ${JSON.stringify(res.body).slice(0, 300)}`);
      assert.equal(res.body.total, 1, "the patient's one prescription");
      assert.ok(
        JSON.stringify(res.body).includes(p.ids.shortFormId),
        `it is theirs: ${shortIdsIn(res.body)}`,
      );
      res = await byPrescription(p, token);
      assert.equal(
        res.status,
        200,
        `own prescription by its ID: ${JSON.stringify(res.body).slice(0, 300)}`,
      );
      for (const refused of [
        await t.eps.track('patient:identifier', theirs, token),
        await byPrescription(q, token),
      ]) {
        assert.equal(
          refused.status,
          403,
          `another patient's: ${JSON.stringify(refused.body).slice(0, 300)}`,
        );
        assert.equal(codeOf(refused), 'ACCESS_DENIED', 'patients only see their own');
        assert.ok(
          !JSON.stringify(refused.body).includes(q.ids.shortFormId),
          'nothing of the other prescription leaks',
        );
      }
      const audit = await t.platform.repo.audit.readAudit(0, 1_000_000);
      assert.ok(
        audit.some((a) => a.record.action === 'eps.tracker.read' && a.record.patient === mine),
        "the patient's read is audited",
      );
    });
  });
}
