/**
 * A PATCH's list indices are those of the record as the caller read it: the read view puts the home
 * address first, so /address/0 of a PATCH is the home address even where the stored record holds
 * another address first.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  commitPatients,
  currentJane,
  living,
  SPARE_NHS,
  withNhsNumber,
} from './helpers/pds-fixtures.js';
import { PDS, startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';

const NHS = SPARE_NHS[20];

for (const kind of await storesUnderTest()) {
  describe(`PATCH indices follow the record as read (${kind})`, () => {
    let platform: TestPlatform;
    before(async () => {
      platform = await startTestPlatform(kind);
      const jane = withNhsNumber(living(currentJane()), NHS);
      jane.address = [
        {
          id: 'T1',
          use: 'temp',
          period: { start: '2024-01-01' },
          line: ['4 Holiday Lane', 'Whitby'],
          postalCode: 'YO21 3PU',
        },
        {
          id: 'H1',
          use: 'home',
          period: { start: '2020-01-01' },
          line: ['1 Trevelyan Square', 'Boar Lane', 'Leeds'],
          postalCode: 'LS1 6AE',
        },
      ];
      await commitPatients(platform.repo, [jane]);
    });
    after(() => platform.close());

    it('reads home first, and /address/0 of a PATCH is that home address', async () => {
      const read = await platform.request({ url: `${PDS}/Patient/${NHS}` });
      assert.equal(read.statusCode, 200, read.body);
      assert.deepEqual(
        read.json().address.map((a: any) => a.id),
        ['H1', 'T1'],
      );
      const res = await platform.request({
        method: 'PATCH',
        url: `${PDS}/Patient/${NHS}`,
        contentType: 'application/json-patch+json',
        headers: { 'if-match': String(read.headers.etag) },
        body: {
          patches: [
            { op: 'replace', path: '/address/0/id', value: 'H1' },
            { op: 'replace', path: '/address/0/postalCode', value: 'LS1 4BU' },
          ],
        },
      });
      assert.equal(res.statusCode, 200, res.body);
      const after = res.json().address;
      assert.equal(
        after.find((a: any) => a.id === 'H1').postalCode,
        'LS1 4BU',
        'the home address changed',
      );
      assert.equal(
        after.find((a: any) => a.id === 'T1').postalCode,
        'YO21 3PU',
        'the temporary address did not',
      );
    });
  });
}
