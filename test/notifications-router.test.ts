/**
 * The notifications router on its own: a redelivered event creates nothing twice; a merge reaches
 * subscribers of the superseded number; a prescription event reaches an organisation-wide
 * subscriber; a restricted patient's address never leaves; ended subscriptions get nothing.
 * Events are handed to the router directly (as the bus would), with ids of their own.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Patient } from 'fhir/r4.js';
import type { OutboxMessage } from '../src/messaging/types.js';
import { fetchMailbox } from '../src/services/notifications/mailbox.js';
import { NotificationRouter } from '../src/services/notifications/router.js';
import {
  commitPatients,
  currentJane,
  restrictedJanet,
  SPARE_NHS,
  withNhsNumber,
} from './helpers/pds-fixtures.js';
import { startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';

const BASE = '/events/FHIR/R4';
const forPatient = (nhs: string, events: string) =>
  `/Bundle?type=message&MessageHeader.event=${events}&Patient.identifier=https://fhir.nhs.uk/Id/nhs-number|${nhs}`;

for (const kind of await storesUnderTest()) {
  describe(`Notification router (${kind})`, () => {
    let platform: TestPlatform;
    let router: NotificationRouter;
    let server: Server;
    let hookUrl: string;
    const P = {
      plain: SPARE_NHS[20],
      superseded: SPARE_NHS[21],
      survivor: SPARE_NHS[22],
      restricted: '9000000025',
      ended: SPARE_NHS[23],
    };

    before(async () => {
      server = createServer((req, res) => {
        req.resume();
        req.on('end', () => res.end());
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      hookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
      platform = await startTestPlatform(kind);
      router = new NotificationRouter(platform.repo, platform.config.publicUrl);
      const plain = (nhs: string): Patient => ({
        ...withNhsNumber(currentJane(), nhs),
        name: [{ family: `Router${nhs}`, given: ['Sam'] }],
      });
      await commitPatients(platform.repo, [
        plain(P.plain),
        plain(P.superseded),
        plain(P.survivor),
        plain(P.ended),
        restrictedJanet(),
      ]);
    });
    after(async () => {
      await platform.close();
      await new Promise((r) => server.close(r));
    });

    async function subscribe(
      criteria: string,
      channel: Record<string, unknown>,
      org = 'A81001',
    ): Promise<string> {
      const res = await platform.request({
        method: 'POST',
        url: `${BASE}/Subscription`,
        token: await platform.token('R8000', { org }),
        body: {
          resourceType: 'Subscription',
          status: 'requested',
          reason: 'router test',
          criteria,
          channel,
        },
      });
      assert.equal(res.statusCode, 201, res.body.slice(0, 400));
      return res.json().id;
    }
    const event = (
      topic: string,
      nhsNumber: string,
      body: Record<string, unknown> = {},
    ): OutboxMessage & { time: string } => ({
      id: randomUUID(),
      topic,
      key: nhsNumber,
      time: new Date().toISOString(),
      body: { nhsNumber, version: 2, time: new Date().toISOString(), ...body },
    });

    it('an event handled twice creates one mailbox entry and one delivery message', async () => {
      const mailbox = await subscribe(forPatient(P.plain, 'pds-death-notification-1'), {
        type: 'message',
      });
      const hook = await subscribe(forPatient(P.plain, 'pds-death-notification-1'), {
        type: 'rest-hook',
        endpoint: hookUrl,
      });
      const death = event('pds.patient.death', P.plain, {
        event: 'death',
        current: { deceasedDateTime: '2026-01-01T00:00:00Z' },
      });
      assert.deepEqual(await router.route(death), { matched: 2, dispatched: 2 });
      assert.deepEqual(
        await router.route({ ...death }),
        { matched: 2, dispatched: 0 },
        'the second time dispatches nothing',
      );
      assert.equal((await fetchMailbox(platform.repo, mailbox, 10)).length, 1, 'one mailbox entry');
      const deliveries = (await platform.repo.messaging.readOutbox(0, 10_000)).filter(
        (m) => m.topic === 'notifications.deliver' && (m.body as any).subscriptionId === hook,
      );
      assert.equal(deliveries.length, 1, 'one delivery message');
      assert.equal(deliveries[0].key, `${hook}|${P.plain}`, 'keyed by subscription and patient');
    });

    it('a merge reaches the subscribers of the superseded number as a record change', async () => {
      const mailbox = await subscribe(forPatient(P.superseded, 'pds-record-change-1'), {
        type: 'message',
      });
      await router.route(
        event('pds.patient.merge', P.survivor, {
          event: 'merge',
          supersededNhsNumber: P.superseded,
        }),
      );
      const [entry] = await fetchMailbox(platform.repo, mailbox, 10);
      assert.ok(entry, "delivered to the superseded number's subscriber");
      const patient = entry.bundle.entry![1].resource as Patient;
      assert.equal(patient.identifier![0].value, P.survivor);
      assert.equal(patient.link![0].other.identifier!.value, P.superseded);
    });

    it('a prescription event reaches the organisation-wide subscriber of the organisation in it, not another', async () => {
      const pharmacy = await subscribe(
        '/Bundle?type=message&MessageHeader.event=eps-prescription-status-1&Organization.identifier=FA565',
        { type: 'message' },
        'FA565',
      );
      const elsewhere = await subscribe(
        '/Bundle?type=message&MessageHeader.event=eps-prescription-status-1&Organization.identifier=FB999',
        { type: 'message' },
        'FB999',
      );
      await router.route(
        event('eps.prescription.dispensed', P.plain, {
          prescriptionId: randomUUID(),
          shortFormId: 'A1B2C3-A83008-5A8A8L',
          issue: 1,
          status: '0006',
          organisation: 'FA565',
        }),
      );
      const [entry] = await fetchMailbox(platform.repo, pharmacy, 10);
      assert.ok(entry, 'the pharmacy got it');
      const task = entry.bundle.entry!.find((e) => e.resource?.resourceType === 'Task')!
        .resource as any;
      assert.equal(task.owner.identifier.value, 'FA565');
      assert.equal(task.businessStatus.coding[0].code, '0006');
      assert.equal(
        (await fetchMailbox(platform.repo, elsewhere, 10)).length,
        0,
        'another pharmacy got nothing',
      );
    });

    it("a restricted patient's new address is not in the event", async () => {
      const mailbox = await subscribe(forPatient(P.restricted, 'pds-change-of-address-1'), {
        type: 'message',
      });
      await router.route(
        event('pds.patient.address-change', P.restricted, {
          event: 'address-change',
          current: { address: { line: ['9 Secret Row'], postalCode: 'LS1 6AE' } },
        }),
      );
      const [entry] = await fetchMailbox(platform.repo, mailbox, 10);
      assert.ok(entry, 'the event is still notified');
      assert.ok(!JSON.stringify(entry.bundle).includes('Secret Row'), 'without the address');
      assert.equal((entry.bundle.entry![1].resource as Patient).address, undefined);
    });

    it('a deleted subscription gets nothing', async () => {
      const mailbox = await subscribe(forPatient(P.ended, 'pds-death-notification-1'), {
        type: 'message',
      });
      const del = await platform.request({
        method: 'DELETE',
        url: `${BASE}/Subscription/${mailbox}`,
      });
      assert.equal(del.statusCode, 204, del.body.slice(0, 300));
      assert.deepEqual(
        await router.route(event('pds.patient.death', P.ended, { event: 'death' })),
        { matched: 0, dispatched: 0 },
      );
      assert.equal((await fetchMailbox(platform.repo, mailbox, 10)).length, 0);
    });
  });
}
