/**
 * Conformance: NHS England's karate-tests/src/test/java/patients/requestErrors.feature
 * (NHSDigital/personal-demographics-service-api): requests no PDS route takes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestPlatform, type TestPlatform } from '../../helpers/platform.js';
import { storesUnderTest } from '../../helpers/stores.js';
import { PDS } from '../../helpers/pds-fixtures.js';
import { assertIdsEchoed, assertPublished } from './read-search-support.js';
import { mintPatientToken } from '../../../src/security/embedded-idp.js';

const FEATURE = 'requestErrors.feature';

for (const kind of await storesUnderTest()) {
  describe(`PDS conformance: ${FEATURE} (${kind})`, () => {
    let platform: TestPlatform;
    before(async () => {
      platform = await startTestPlatform(kind);
    });
    after(async () => platform?.close());

    async function send(method: string, path: string, body?: unknown) {
      const headers = {
        'x-request-id': crypto.randomUUID(),
        'x-correlation-id': crypto.randomUUID(),
      };
      const res = await platform.request({ method, url: `${PDS}${path}`, headers, body });
      assertIdsEchoed(res, headers);
      return res;
    }

    it(`${FEATURE}: Make request to endpoint that is not supported`, async () => {
      const res = await send('GET', '/HelloWorld');
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json().issue[0].diagnostics, "Unsupported path - '/HelloWorld'");
    });

    it(`${FEATURE}: Make request to invalid endpoint that is similar to valid endpoint`, async () => {
      const res = await send('GET', '/Patient!');
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json().issue[0].diagnostics, "Unsupported path - '/Patient!'");
    });

    it(`${FEATURE}: Make invalid put request to get patient endpoint`, async () => {
      const res = await send('PUT', '/Patient/9693632109', {
        id: 123,
        name: 'John Smith',
        email: 'john.smith@example.com',
      });
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json().issue[0].details.coding[0].display, 'Unsupported Service');
      assertPublished(res, 400, 'UNSUPPORTED_SERVICE');
    });

    // the unsupported content type of healthcareWorker/updatePatientDetails/requestErrors.feature,
    // on the read/search/create routes too
    it('updatePatientDetails/requestErrors.feature: Invalid content-type header (as answered on POST /Patient)', async () => {
      const res = await platform.request({
        method: 'POST',
        url: `${PDS}/Patient`,
        body: '{"name":[]}',
        contentType: 'application/bananas',
      });
      assertPublished(res, 400, 'UNSUPPORTED_SERVICE');
    });

    // every plugin under the PDS base answers so, whatever the Content-Type's shape; other APIs keep 415
    it('updatePatientDetails/requestErrors.feature: Invalid content-type header (on $process-birth-details, and not a media type)', async () => {
      for (const contentType of [
        'application/bananas',
        'bananas',
        ';;',
        'text/plain; charset=utf-8',
      ]) {
        for (const path of ['/Patient', '/Patient/$process-birth-details']) {
          const res = await platform.request({
            method: 'POST',
            url: `${PDS}${path}`,
            body: '{"name":[]}',
            contentType,
          });
          assertPublished(res, 400, 'UNSUPPORTED_SERVICE');
        }
      }
      const scr = await platform.request({
        method: 'POST',
        url: '/summary-care-record/FHIR/R4/Bundle',
        body: '{}',
        contentType: 'bananas',
      });
      assert.equal(scr.statusCode, 415, scr.body);
      assert.equal(scr.json().issue[0].details.coding[0].code, 'UNSUPPORTED_MEDIA_TYPE');
    });

    it('updatePatientDetails/requestErrors.feature: Invalid content-type header (on POST /Coverage, patient access)', async () => {
      const token = await mintPatientToken(platform.key, {
        nhsNumber: '9000000009',
        audience: platform.config.audience,
        proofingLevel: 'P9',
      });
      for (const contentType of ['application/bananas', 'bananas']) {
        const res = await platform.request({
          method: 'POST',
          url: `${PDS}/Coverage`,
          token,
          body: '{}',
          contentType,
          headers: { 'if-match': 'W/"1"' },
        });
        assertPublished(res, 400, 'UNSUPPORTED_SERVICE');
      }
    });

    it('a Content-Type on a read is not looked at', async () => {
      const res = await platform.app.inject({
        method: 'GET',
        url: `${PDS}/metadata`,
        headers: { 'x-request-id': crypto.randomUUID(), 'content-type': 'bananas' },
      });
      assert.equal(res.statusCode, 200, res.body);
    });
  });
}
