/**
 * PDS asks clients to retry a write with the same X-Request-ID (after a timeout or a lost reply);
 * the retry must get the original answer and must not apply the write twice.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { seedPatients } from '../src/seed/seed-patients.js';
import { PATIENT } from '../src/services/pds/patient-model.js';
import { PDS, spineCode, startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';

const PATCH = 'application/json-patch+json';
const birth = (family: string) => ({
  name: [{ use: 'usual', given: ['Ada'], family }],
  gender: 'female',
  birthDate: '2026-11-20',
  // an address period and lines 1 (or 2) and 4 are required at birth registration
  // (postPatient.feature, MISSING_VALUE 'address/0/period', INVALID_CREATE)
  address: [
    {
      use: 'home',
      period: { start: '2026-11-20' },
      line: ['1 High Street', '', '', 'Leeds'],
      postalCode: 'LS1 6AE',
    },
  ],
});

for (const kind of await storesUnderTest()) {
  describe(`X-Request-ID replay of writes (${kind})`, () => {
    let platform: TestPlatform;
    let ids: string[];
    const nameIds = new Map<string, string>();
    before(async () => {
      platform = await startTestPlatform(kind);
      await seedPatients(platform.repo, { patients: 10, seed: 21 });
      ids = await platform.repo.search({
        type: PATIENT,
        criteria: [{ any: [{ param: 'identifier', op: 'prefix', value: '999' }] }],
        limit: 10,
      });
      for (const id of ids)
        nameIds.set(id, (await platform.repo.read(PATIENT, id))!.resource.name![0].id!);
    });
    after(() => platform.close());

    const patch = (
      id: string,
      requestId: string,
      family: string,
      ifMatch = 'W/"1"',
      token?: string,
    ) =>
      platform.request({
        method: 'PATCH',
        url: `${PDS}/Patient/${id}`,
        token,
        contentType: PATCH,
        headers: { 'x-request-id': requestId, 'if-match': ifMatch },
        // a change within a list item names the item's id first
        // (NHSDigital/personal-demographics-service-api replaceErrors.feature: "no id or url found
        // for path with root /address/0")
        body: {
          patches: [
            { op: 'test', path: '/name/0/id', value: nameIds.get(id) },
            { op: 'replace', path: '/name/0/family', value: family },
          ],
        },
      });

    it('a retried PATCH answers as the first did and is applied once', async () => {
      const requestId = randomUUID();
      const first = await patch(ids[0], requestId, 'Retryson');
      assert.equal(first.statusCode, 200, first.body.slice(0, 300));
      assert.equal(first.headers.etag, 'W/"2"');
      const again = await patch(ids[0], requestId, 'Retryson');
      assert.equal(again.statusCode, 200, again.body.slice(0, 300));
      assert.equal(again.headers.etag, 'W/"2"');
      assert.deepEqual(again.json(), first.json());
      assert.equal((await platform.repo.history(PATIENT, ids[0])).length, 2);
      // a new request with the same stale If-Match is still refused
      const stale = await patch(ids[0], randomUUID(), 'Other');
      assert.equal(stale.statusCode, 409);
      assert.equal(spineCode(stale), 'RESOURCE_VERSION_MISMATCH');
    });

    it('two copies of one PATCH racing each other apply it once and both get the same answer', async () => {
      const requestId = randomUUID();
      const [a, b] = await Promise.all([
        patch(ids[1], requestId, 'Twin'),
        patch(ids[1], requestId, 'Twin'),
      ]);
      assert.deepEqual(
        [a.statusCode, b.statusCode],
        [200, 200],
        a.body.slice(0, 200) + b.body.slice(0, 200),
      );
      assert.equal(a.headers.etag, 'W/"2"');
      assert.equal(b.headers.etag, 'W/"2"');
      assert.equal((await platform.repo.history(PATIENT, ids[1])).length, 2);
    });

    it('a retried birth registration returns the same new NHS Number instead of a second record or a duplicate warning', async () => {
      const requestId = randomUUID();
      const before = await platform.repo.count(PATIENT);
      const first = await platform.request({
        method: 'POST',
        url: `${PDS}/Patient`,
        headers: { 'x-request-id': requestId },
        body: birth('Onceonly'),
      });
      assert.equal(first.statusCode, 201, first.body.slice(0, 300));
      const again = await platform.request({
        method: 'POST',
        url: `${PDS}/Patient`,
        headers: { 'x-request-id': requestId },
        body: birth('Onceonly'),
      });
      assert.equal(again.statusCode, 201, again.body.slice(0, 300));
      assert.equal(again.json().id, first.json().id);
      assert.equal(again.headers.location, first.headers.location);
      assert.equal(await platform.repo.count(PATIENT), before + 1);
    });

    it('two copies of one birth registration racing each other create one record', async () => {
      const requestId = randomUUID();
      const before = await platform.repo.count(PATIENT);
      const send = () =>
        platform.request({
          method: 'POST',
          url: `${PDS}/Patient`,
          headers: { 'x-request-id': requestId },
          body: birth('Racingtwin'),
        });
      const [a, b] = await Promise.all([send(), send()]);
      assert.deepEqual(
        [a.statusCode, b.statusCode],
        [201, 201],
        a.body.slice(0, 200) + b.body.slice(0, 200),
      );
      assert.equal(a.json().id, b.json().id);
      assert.equal(await platform.repo.count(PATIENT), before + 1);
    });

    it('a retried merge answers with the survivor again', async () => {
      const requestId = randomUUID();
      const body = {
        resourceType: 'Parameters',
        parameter: [
          { name: 'source-patient-identifier', valueIdentifier: { value: ids[2] } },
          { name: 'target-patient-identifier', valueIdentifier: { value: ids[3] } },
        ],
      };
      const token = await platform.token('R8013');
      const first = await platform.request({
        method: 'POST',
        url: `${PDS}/Patient/$merge`,
        token,
        headers: { 'x-request-id': requestId },
        body,
      });
      assert.equal(first.statusCode, 200, first.body.slice(0, 300));
      const again = await platform.request({
        method: 'POST',
        url: `${PDS}/Patient/$merge`,
        token,
        headers: { 'x-request-id': requestId },
        body,
      });
      assert.equal(again.statusCode, 200, again.body.slice(0, 300));
      assert.deepEqual(again.json(), first.json());
      assert.equal((await platform.repo.history(PATIENT, ids[3])).length, 2);
    });

    it('the same X-Request-ID on another request or from another user is refused and changes nothing', async () => {
      const requestId = randomUUID();
      assert.equal((await patch(ids[4], requestId, 'Firstuse')).statusCode, 200);
      const otherPath = await patch(ids[5], requestId, 'Seconduse');
      assert.equal(otherPath.statusCode, 400);
      assert.equal(spineCode(otherPath), 'INVALID_VALUE');
      assert.match(otherPath.json().issue[0].diagnostics, /already been used/);
      const otherUser = await patch(
        ids[4],
        requestId,
        'Firstuse',
        'W/"1"',
        await platform.token('R8000', { user: 'someone-else' }),
      );
      assert.equal(otherUser.statusCode, 400);
      assert.equal((await platform.repo.history(PATIENT, ids[5])).length, 1);
    });
  });
}
