/**
 * Conformance: NHS England's karate-tests/src/test/java/patients/healthcareWorker/invalidHeaders/invalidHeaders.feature
 * (NHSDigital/personal-demographics-service-api): authorisation and X-Request-ID refusals of a read
 * and a search, compared with the published error bodies.
 */
import { after, before, describe, it } from 'node:test';
import { startTestPlatform, type TestPlatform } from '../../helpers/platform.js';
import { storesUnderTest } from '../../helpers/stores.js';
import { PDS } from '../../helpers/pds-fixtures.js';
import { assertIdsEchoed, assertPublished } from './read-search-support.js';

const FEATURE = 'invalidHeaders.feature';
const NHS_NUMBER = '9693632109';
const TARGET = {
  get: `${PDS}/Patient/${NHS_NUMBER}`,
  search: `${PDS}/Patient?family=Capon&gender=male&birthdate=eq1953-05-29`,
} as const;

for (const kind of await storesUnderTest()) {
  describe(`PDS conformance: ${FEATURE} (${kind})`, () => {
    let platform: TestPlatform;
    before(async () => {
      platform = await startTestPlatform(kind);
    });
    after(async () => platform?.close());

    async function send(
      operation: keyof typeof TARGET,
      headers: Record<string, string>,
      token?: string | null,
    ) {
      const res = await platform.request({ url: TARGET[operation], headers, token });
      assertIdsEchoed(res, headers);
      return res;
    }

    // Auth errors: the token verifier (src/security/token-verifier.ts) answers in PDS's words
    const auth: [string, string, string, boolean][] = [
      ['', 'Missing Authorization header', '', false],
      ['Bearer', 'Missing access token', '', false],
      ['Bearer abcdef123456789', 'Invalid Access Token', '', false],
    ];
    for (const operation of ['get', 'search'] as const) {
      for (const [headerValue, diagnostics, why, todo] of auth) {
        it(
          `${FEATURE}: Auth errors: patient ${operation} - ${diagnostics}`,
          todo ? { todo: why } : {},
          async () => {
            const headers: Record<string, string> = {
              'x-request-id': crypto.randomUUID(),
              'x-correlation-id': crypto.randomUUID(),
            };
            // the published table's empty value is the header left out ("Missing"); an empty header is
            // "Empty Authorization header" (appRestricted/getPatient.feature, tested in app-restricted.test.ts)
            if (headerValue !== '') headers.authorization = headerValue;
            assertPublished(await send(operation, headers, null), 401, 'ACCESS_DENIED', {
              display: 'Access Denied - Unauthorised',
              diagnostics,
            });
          },
        );
      }

      it(`${FEATURE}: x-request-id errors: patient ${operation} - Invalid request with error - X-Request-ID header must be supplied to access this resource`, async () => {
        assertPublished(await send(operation, { 'x-request-id': '' }), 400, 'MISSING_VALUE', {
          diagnostics:
            'Invalid request with error - X-Request-ID header must be supplied to access this resource',
        });
      });

      it(`${FEATURE}: x-request-id errors: patient ${operation} - Invalid value - '1234' in header 'X-Request-ID'`, async () => {
        assertPublished(await send(operation, { 'x-request-id': '1234' }), 400, 'INVALID_VALUE', {
          diagnostics: "Invalid value - '1234' in header 'X-Request-ID'",
        });
      });
    }
  });
}
