/**
 * End to end, through the real EPS and the bus: a prescribing practice subscribed to the events it
 * takes part in finds the issue of its prescription in its mailbox, and not the pharmacy's release.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startEpsPlatform, type EpsPlatform } from './helpers/eps-platform.js';
import { addPatient, GP_ORG, PHARMACY } from './helpers/eps-prescribing.js';
import { waitFor } from './helpers/messaging.js';
import { storesUnderTest } from './helpers/stores.js';

const EVENTS = '/events/FHIR/R4';

for (const kind of await storesUnderTest()) {
  describe(`prescription events reach subscribers (${kind})`, () => {
    let t: EpsPlatform;
    const subscriptions: Record<string, { id: string; token: string }> = {};
    const mailbox = async (org: string) => {
      const { id, token } = subscriptions[org];
      const res = await t.platform.request({
        url: `${EVENTS}/Subscription/${id}/$mailbox?_count=50`,
        token,
      });
      assert.equal(res.statusCode, 200, res.body.slice(0, 300));
      return res.json().entry.map((e: any) => e.resource);
    };
    async function subscribe(org: string, token: string) {
      const res = await t.platform.request({
        method: 'POST',
        url: `${EVENTS}/Subscription`,
        token,
        body: {
          resourceType: 'Subscription',
          status: 'requested',
          reason: 'prescriptions we take part in',
          criteria: `/Bundle?type=message&MessageHeader.event=eps-prescription-status-1&Organization.identifier=${org}`,
          channel: { type: 'message' },
        },
      });
      assert.equal(res.statusCode, 201, res.body.slice(0, 400));
      subscriptions[org] = { id: res.json().id, token };
    }

    before(async () => {
      t = await startEpsPlatform(kind);
      await subscribe(GP_ORG, t.eps.tokens.prescriber);
      // the pharmacy's admin staff subscribe for the pharmacy
      await subscribe(
        PHARMACY,
        await t.platform.token('R8008', { user: 'pharmacy-admin', org: PHARMACY }),
      );
    });
    after(async () => t.close());

    it("the prescriber's mailbox gets the prescription it issued, not the pharmacy's release of it", async () => {
      const nhs = await addPatient(t.platform.repo);
      const p = await t.eps.prescribe({ nhsNumber: nhs });
      assert.equal(p.response.status, 200, JSON.stringify(p.response.body).slice(0, 300));
      const released = await t.eps.release(p.ids.shortFormId, t.eps.tokens.pharmacy);
      assert.equal(released.status, 200, JSON.stringify(released.body).slice(0, 300));
      const ofThis = (bundles: any[]) =>
        bundles
          .map((b) => b.entry.find((e: any) => e.resource.resourceType === 'Task')?.resource)
          .filter((task: any) => task?.groupIdentifier?.value === p.ids.shortFormId);
      // events of one patient are routed in order: once the pharmacy has the release, the router is past it
      await waitFor(
        "the release in the pharmacy's mailbox",
        async () => ofThis(await mailbox(PHARMACY)).length >= 1,
      );
      assert.deepEqual(
        ofThis(await mailbox(PHARMACY)).map((x: any) => x.businessStatus.coding[0].code),
        ['with-dispenser'],
        'the pharmacy gets its release',
      );
      const tasks = ofThis(await mailbox(GP_ORG));
      assert.deepEqual(
        tasks.map((x: any) => x.businessStatus.coding[0].code),
        ['to-be-dispensed'],
        'the issue only',
      );
      assert.equal(tasks[0].for.identifier.value, nhs, 'about the patient');
      assert.equal(tasks[0].owner.identifier.value, GP_ORG, 'by the practice');
      assert.ok(
        !JSON.stringify(await mailbox(PHARMACY)).includes('to-be-dispensed'),
        'and the pharmacy not the issue',
      );
    });
  });
}
