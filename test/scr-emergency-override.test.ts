/**
 * Emergency access overrides permission to view: a clinician whose organisation has a legitimate
 * relationship (here the registered practice), whose patient refused permission or cannot be
 * asked, sees the SCR once they have emergency access of their own, on that basis, audited as
 * emergency access. The grant is the user's: a colleague at the same practice is still refused.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { AuditRecord } from '../src/audit/types.js';
import { CONSENT_CHOICE_SYSTEM } from '../src/services/scr/consent-codes.js';
import { SCR_BASE } from '../src/services/scr/routes.js';
import { SECURITY_BASE } from '../src/services/security/routes.js';
import { assertOutcome, commitPatients, currentJane, NHS } from './helpers/pds-fixtures.js';
import { startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';

const NHS_SYSTEM = 'https://fhir.nhs.uk/Id/nhs-number';
const PRACTICE = 'Y12345';

for (const kind of await storesUnderTest()) {
  describe(`SCR: emergency access overrides permission to view (${kind})`, () => {
    let platform: TestPlatform;
    let docId: string;
    const tokenOf = (user: string) => platform.token('R8000', { user, org: PRACTICE });
    const get = async (path: string, user: string) =>
      platform.request({ url: `${SCR_BASE}${path}`, token: await tokenOf(user) });
    const post = async (url: string, user: string, body: unknown) =>
      platform.request({ method: 'POST', url, token: await tokenOf(user), body });
    const audits = async (filter: (r: AuditRecord) => boolean) =>
      (await platform.repo.audit.readAudit(0, 100_000)).map((e) => e.record).filter(filter);
    const breakGlass = (user: string) =>
      post(`${SECURITY_BASE}/$emergency-access`, user, {
        resourceType: 'Parameters',
        parameter: [
          { name: 'patient', valueIdentifier: { system: NHS_SYSTEM, value: NHS.jane } },
          { name: 'reasonCode', valueCode: 'unable-to-consent' },
          { name: 'reasonText', valueString: 'Unconscious after a fall in the surgery' },
        ],
      });
    const setPermission = (user: string, code: 'Yes' | 'No') =>
      post(`${SCR_BASE}/$setPermission`, user, {
        resourceType: 'Parameters',
        parameter: [
          {
            name: 'setPermissions',
            part: [
              { name: 'nhsNumber', valueString: NHS.jane },
              {
                name: 'permissionCode',
                valueCoding: { system: 'https://fhir.nhs.uk/CodeSystem/SCR-ACSPermission', code },
              },
            ],
          },
        ],
      });

    before(async () => {
      platform = await startTestPlatform(kind);
      await commitPatients(platform.repo, [currentJane()]);
      const consent = await post(`${SCR_BASE}/Consent`, 'gp-uploader', {
        resourceType: 'Consent',
        status: 'active',
        scope: {
          coding: [
            {
              system: 'http://terminology.hl7.org/CodeSystem/consentscope',
              code: 'patient-privacy',
            },
          ],
        },
        patient: { identifier: { system: NHS_SYSTEM, value: NHS.jane } },
        policyRule: { coding: [{ system: CONSENT_CHOICE_SYSTEM, code: 'scr-additional' }] },
      });
      assert.equal(consent.statusCode, 201, consent.body);
      const doc = JSON.parse(
        readFileSync(new URL('./fixtures/scr/gp-summary.Bundle.json', import.meta.url), 'utf8'),
      );
      const uploaded = await post(`${SCR_BASE}/Bundle`, 'gp-uploader', doc);
      assert.equal(uploaded.statusCode, 201, uploaded.body.slice(0, 300));
      docId = uploaded.json().id;
    });
    after(() => platform.close());

    it('a refusal is overridden by the user’s own emergency access, and audited as such', async () => {
      assert.equal((await setPermission('gp-refused', 'No')).statusCode, 201);
      assertOutcome(
        await get(`/Bundle/${docId}?patient=${NHS.jane}`, 'gp-refused'),
        403,
        'SCR_PERMISSION_REFUSED',
      );
      assert.equal((await breakGlass('gp-refused')).statusCode, 201);
      const read = await get(`/Bundle/${docId}?patient=${NHS.jane}`, 'gp-refused');
      assert.equal(read.statusCode, 200, read.body.slice(0, 300));
      assert.ok(read.json().meta.tag.some((t: any) => t.code === 'emergency-access'));
      const summary = await get(`/$summary?patient=${NHS.jane}`, 'gp-refused');
      assert.equal(summary.statusCode, 200, summary.body.slice(0, 300));
      const views = await audits(
        (r) => r.userId === 'gp-refused' && r.action === 'scr.view' && r.outcome === 'success',
      );
      assert.equal(views.length, 2);
      for (const v of views) {
        assert.equal(v.purpose, 'emergency-access');
        assert.equal(v.detail?.viewBasis, 'emergency-access');
        assert.equal(v.detail?.accessBasis, 'registered-gp', 'the relationship is still recorded');
      }
      // the grant is this user's: a colleague at the same practice is still refused
      assert.equal((await setPermission('gp-colleague', 'No')).statusCode, 201);
      assertOutcome(
        await get(`/Bundle/${docId}?patient=${NHS.jane}`, 'gp-colleague'),
        403,
        'SCR_PERMISSION_REFUSED',
      );
    });

    it('a patient who cannot be asked: emergency access without any recorded permission', async () => {
      assertOutcome(
        await get(`/$summary?patient=${NHS.jane}`, 'gp-unasked'),
        403,
        'SCR_PERMISSION_REQUIRED',
      );
      assert.equal((await breakGlass('gp-unasked')).statusCode, 201);
      const summary = await get(`/$summary?patient=${NHS.jane}`, 'gp-unasked');
      assert.equal(summary.statusCode, 200, summary.body.slice(0, 300));
      assert.ok(summary.json().meta.tag.some((t: any) => t.code === 'emergency-access'));
    });

    it('a permission given stays the basis when the user also has emergency access', async () => {
      assert.equal((await breakGlass('gp-both')).statusCode, 201);
      assert.equal((await setPermission('gp-both', 'Yes')).statusCode, 201);
      const read = await get(`/Bundle/${docId}?patient=${NHS.jane}`, 'gp-both');
      assert.equal(read.statusCode, 200);
      assert.ok(read.json().meta.tag.some((t: any) => t.code === 'permission'));
    });
  });
}
