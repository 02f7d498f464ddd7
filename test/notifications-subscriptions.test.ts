/**
 * Subscription management under /events/FHIR/R4: create (requested -> active), read, list and
 * delete by the owning organisation only; malformed criteria and channels refused with NHS codes;
 * subscribing and unsubscribing audited.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { addEndpoint } from '../src/services/directory/endpoint-model.js';
import { commitPatients, currentJane, restrictedJanet } from './helpers/pds-fixtures.js';
import { startTestPlatform, spineCode, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';

const BASE = '/events/FHIR/R4';
const NHS = '9000000009';
const criteriaFor = (nhs: string, events = 'pds-death-notification-1') =>
  `/Bundle?type=message&serviceType=GP&MessageHeader.event=${events}&Patient.identifier=https://fhir.nhs.uk/Id/nhs-number|${nhs}`;

function subscription(
  criteria: string,
  channel: Record<string, unknown> = {
    type: 'rest-hook',
    endpoint: 'https://hooks.example.nhs.uk/events',
    payload: 'application/fhir+json',
  },
) {
  return {
    resourceType: 'Subscription',
    status: 'requested',
    reason: 'Keep the practice record in step',
    criteria,
    channel,
  };
}

for (const kind of await storesUnderTest()) {
  describe(`Notification subscriptions (${kind})`, () => {
    let platform: TestPlatform;
    let orgB: string;

    before(async () => {
      platform = await startTestPlatform(kind);
      orgB = await platform.token('R8000', { user: 'user-b', org: 'B82001' });
      await commitPatients(platform.repo, [currentJane(), restrictedJanet()]); // Jane's practice is Y12345
    });
    after(() => platform.close());

    const create = (body: unknown, token?: string) =>
      platform.request({ method: 'POST', url: `${BASE}/Subscription`, body, token });

    it('creates an active subscription owned by the caller organisation, readable and listable by it', async () => {
      const res = await create(subscription(criteriaFor(NHS)));
      assert.equal(res.statusCode, 201, res.body.slice(0, 400));
      const created = res.json();
      assert.equal(created.status, 'active');
      assert.equal(res.headers.etag, 'W/"1"');
      assert.match(String(res.headers.location), new RegExp(`${BASE}/Subscription/${created.id}$`));
      assert.equal(
        created.extension[0].valueIdentifier.value,
        'A81001',
        'owned by the token organisation',
      );
      const read = await platform.request({ url: `${BASE}/Subscription/${created.id}` });
      assert.equal(read.statusCode, 200, read.body.slice(0, 300));
      assert.deepEqual(read.json(), created);
      const list = (await platform.request({ url: `${BASE}/Subscription` })).json();
      assert.ok(
        list.entry.some((e: any) => e.resource.id === created.id),
        'listed for its owner',
      );
      const audit = await platform.repo.audit.readAudit(0, 10_000);
      assert.ok(
        audit.some(
          (a) =>
            a.record.action === 'notifications.subscribe' &&
            a.record.patient === NHS &&
            (a.record.detail as any)?.subscription === created.id,
        ),
        'subscribe audited against the patient',
      );
    });

    it('another organisation cannot read, list, delete or open the mailbox of it', async () => {
      const { id } = (
        await create(subscription(criteriaFor('9000000025', 'pds-change-of-address-1')))
      ).json();
      assert.ok(id, 'created');
      assert.equal(
        spineCode(await platform.request({ url: `${BASE}/Subscription/${id}`, token: orgB })),
        'RESOURCE_NOT_FOUND',
      );
      assert.equal(
        spineCode(
          await platform.request({
            method: 'DELETE',
            url: `${BASE}/Subscription/${id}`,
            token: orgB,
          }),
        ),
        'RESOURCE_NOT_FOUND',
      );
      const list = (await platform.request({ url: `${BASE}/Subscription`, token: orgB })).json();
      assert.ok(
        !list.entry.some((e: any) => e.resource.id === id),
        "not in the other organisation's list",
      );
      assert.equal(
        (await platform.request({ url: `${BASE}/Subscription/${id}` })).statusCode,
        200,
        'still there for its owner',
      );
    });

    it('the owner deletes it: 204, then 404, and the unsubscribe is audited', async () => {
      const { id } = (await create(subscription(criteriaFor(NHS, 'pds-change-of-gp-1')))).json();
      const del = await platform.request({ method: 'DELETE', url: `${BASE}/Subscription/${id}` });
      assert.equal(del.statusCode, 204, del.body.slice(0, 300));
      assert.equal(
        spineCode(await platform.request({ url: `${BASE}/Subscription/${id}` })),
        'RESOURCE_NOT_FOUND',
      );
      assert.equal(
        spineCode(await platform.request({ method: 'DELETE', url: `${BASE}/Subscription/${id}` })),
        'RESOURCE_NOT_FOUND',
      );
      const audit = await platform.repo.audit.readAudit(0, 10_000);
      assert.ok(
        audit.some(
          (a) =>
            a.record.action === 'notifications.unsubscribe' &&
            (a.record.detail as any)?.subscription === id,
        ),
        'unsubscribe audited',
      );
    });

    it('an organisation-wide subscription is accepted for the caller organisation only', async () => {
      const own = await create(
        subscription(
          '/Bundle?type=message&MessageHeader.event=pds-birth-notification-1&Patient.generalPractitioner=A81001',
        ),
      );
      assert.equal(own.statusCode, 201, own.body.slice(0, 300));
      const orgEvents = await create(
        subscription(
          '/Bundle?type=message&MessageHeader.event=eps-prescription-status-1&Organization.identifier=A81001',
          { type: 'message' },
        ),
      );
      assert.equal(orgEvents.statusCode, 201, orgEvents.body.slice(0, 300));
      const other = await create(
        subscription(
          '/Bundle?type=message&MessageHeader.event=pds-birth-notification-1&Patient.generalPractitioner=B82001',
        ),
      );
      assert.equal(other.statusCode, 403, other.body.slice(0, 300));
      assert.equal(spineCode(other), 'ACCESS_DENIED');
    });

    it('a second identical subscription is 409 DUPLICATE_REJECTED', async () => {
      const body = subscription(
        criteriaFor(NHS, 'pds-birth-notification-1,pds-change-of-address-1'),
      );
      assert.equal((await create(body)).statusCode, 201);
      const again = await create(body);
      assert.equal(again.statusCode, 409, again.body.slice(0, 300));
      assert.equal(spineCode(again), 'DUPLICATE_REJECTED');
    });

    it('a retried create (same X-Request-ID) answers with the same subscription and stores one', async () => {
      const requestId = crypto.randomUUID();
      const body = subscription(criteriaFor(NHS, 'pds-record-change-1'));
      const first = await platform.request({
        method: 'POST',
        url: `${BASE}/Subscription`,
        body,
        headers: { 'x-request-id': requestId },
      });
      const second = await platform.request({
        method: 'POST',
        url: `${BASE}/Subscription`,
        body,
        headers: { 'x-request-id': requestId },
      });
      assert.equal(first.statusCode, 201, first.body.slice(0, 300));
      assert.equal(second.statusCode, 201, second.body.slice(0, 300));
      assert.equal(second.json().id, first.json().id);
    });

    it('malformed criteria are refused with 400 INVALID_SEARCH_DATA and store nothing', async () => {
      const before = await platform.repo.count('Subscription');
      const bad = [
        'Bundle?type=message&MessageHeader.event=pds-death-notification-1&Patient.identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009',
        '/Bundle?type=tree&MessageHeader.event=pds-death-notification-1&Patient.identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009',
        '/Bundle?MessageHeader.event=pds-death-notification-1&Patient.identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009',
        '/Bundle?type=message&Patient.identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009',
        '/Bundle?type=message&MessageHeader.event=pds-death-notification-99&Patient.identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009',
        '/Bundle?type=message&MessageHeader.event=pds-death-notification-1&Patient.identifier=https://fhir.nhs.uk/Id/nhs-numbers|9000000009',
        '/Bundle?type=message&MessageHeader.event=pds-death-notification-1&Patient.identifier=https://fhir.nhs.uk/Id/nhs-number|9000000000',
        '/Bundle?type=message&MessageHeader.event=pds-death-notification-1&Patient.identifier=9000000009',
        '/Bundle?type=message&MessageHeader.event=pds-death-notification-1',
        '/Bundle?type=message&MessageHeader.event=pds-death-notification-1&Patient.identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009&Patient.age=lt14',
        '/Bundle?type=message&MessageHeader.event=pds-death-notification-1&Patient.identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009&Patient.generalPractitioner=A81001',
        '/Bundle?type=message&type=message&MessageHeader.event=pds-death-notification-1&Patient.identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009',
      ];
      for (const criteria of bad) {
        const res = await create(subscription(criteria));
        assert.equal(res.statusCode, 400, `${criteria}: ${res.body.slice(0, 300)}`);
        assert.equal(spineCode(res), 'INVALID_SEARCH_DATA', criteria);
      }
      assert.equal(await platform.repo.count('Subscription'), before, 'nothing stored');
    });

    it('a malformed Subscription or channel is refused with 400', async () => {
      const ok = subscription(criteriaFor(NHS, 'pds-record-change-1'));
      const cases: [unknown, string][] = [
        [{ ...ok, status: 'active' }, 'INVALID_VALUE'],
        [{ ...ok, id: 'mine' }, 'INVALID_VALUE'],
        [{ ...ok, resourceType: 'Patient' }, 'INVALID_VALUE'],
        [{ ...ok, reason: '' }, 'INVALID_VALUE'],
        [{ ...ok, criteria: undefined }, 'MISSING_VALUE'],
        [{ ...ok, channel: undefined }, 'MISSING_VALUE'],
        [{ ...ok, channel: { type: 'email', endpoint: 'mailto:a@b.c' } }, 'INVALID_VALUE'],
        [{ ...ok, channel: { type: 'rest-hook' } }, 'MISSING_VALUE'],
        [
          { ...ok, channel: { type: 'rest-hook', endpoint: 'ftp://example.org/x' } },
          'INVALID_VALUE',
        ],
        [{ ...ok, channel: { type: 'rest-hook', endpoint: 'not a url' } }, 'INVALID_VALUE'],
        [
          { ...ok, channel: { type: 'rest-hook', endpoint: 'Endpoint/does-not-exist' } },
          'INVALID_VALUE',
        ],
        [
          {
            ...ok,
            channel: {
              type: 'rest-hook',
              endpoint: 'https://x.example/',
              header: ['Authorization: x'],
            },
          },
          'INVALID_VALUE',
        ],
        [[1, 2], 'INVALID_VALUE'],
      ];
      for (const [body, code] of cases) {
        const res = await create(body);
        assert.equal(
          res.statusCode,
          400,
          `${JSON.stringify(body).slice(0, 200)}: ${res.body.slice(0, 300)}`,
        );
        assert.equal(spineCode(res), code, JSON.stringify(body).slice(0, 200));
      }
    });

    it("a rest-hook may name a directory Endpoint of the caller's organisation, not another's", async () => {
      for (const org of ['A81001', 'B82001']) {
        await platform.repo.commit({
          resources: [
            {
              type: 'Organization',
              id: org,
              expectedVersion: 0,
              resource: { resourceType: 'Organization', id: org, name: org },
              index: [],
            },
          ],
        });
      }
      const own = (
        await addEndpoint(platform.repo, {
          org: 'A81001',
          interaction: 'urn:nhs:names:services:nems:events',
          address: 'https://a81001.example.nhs.uk/events',
        })
      ).endpoint;
      const theirs = (
        await addEndpoint(platform.repo, {
          org: 'B82001',
          interaction: 'urn:nhs:names:services:nems:events',
          address: 'https://b82001.example.nhs.uk/events',
        })
      ).endpoint;
      const ok = await create(
        subscription(criteriaFor(NHS, 'pds-change-of-address-1'), {
          type: 'rest-hook',
          endpoint: `Endpoint/${own.id}`,
        }),
      );
      assert.equal(ok.statusCode, 201, ok.body.slice(0, 300));
      assert.equal(ok.json().channel.endpoint, `Endpoint/${own.id}`);
      const refused = await create(
        subscription(criteriaFor(NHS, 'pds-death-notification-1'), {
          type: 'rest-hook',
          endpoint: `Endpoint/${theirs.id}`,
        }),
      );
      assert.equal(refused.statusCode, 403, refused.body.slice(0, 300));
      assert.equal(spineCode(refused), 'ACCESS_DENIED');
    });

    it('PDS events need pds.read; clinical events about a patient need a legitimate relationship; the patient must be on PDS', async () => {
      const support = await platform.token('R8015', { user: 'support', org: 'A81001' }); // may subscribe, may not read demographics
      const noRead = await create(
        subscription(criteriaFor(NHS, 'pds-change-of-address-1')),
        support,
      );
      assert.equal(noRead.statusCode, 403, noRead.body.slice(0, 300));
      assert.equal(spineCode(noRead), 'ACCESS_DENIED');
      const stranger = await create(subscription(criteriaFor(NHS, 'scr-document-uploaded-1')));
      assert.equal(stranger.statusCode, 403, stranger.body.slice(0, 300));
      assert.equal(spineCode(stranger), 'NO_LEGITIMATE_RELATIONSHIP');
      const practice = await create(
        subscription(criteriaFor(NHS, 'scr-document-uploaded-1')),
        await platform.token('R8000', { user: 'gp', org: 'Y12345' }),
      );
      assert.equal(
        practice.statusCode,
        201,
        `the registered practice may: ${practice.body.slice(0, 300)}`,
      );
      const unknown = await create(
        subscription(criteriaFor('9000000041', 'pds-death-notification-1')),
      );
      assert.equal(unknown.statusCode, 400, unknown.body.slice(0, 300));
      assert.equal(spineCode(unknown), 'INVALID_VALUE');
    });

    it('a role without notifications.subscribe is refused', async () => {
      const student = await platform.token('R8004');
      const res = await create(subscription(criteriaFor(NHS)), student);
      assert.equal(res.statusCode, 403, res.body.slice(0, 300));
      assert.equal(spineCode(res), 'ACCESS_DENIED');
    });
  });
}
