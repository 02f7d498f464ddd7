/**
 * The Summary Care Record and privacy officer journeys in a real browser. A clinician without a
 * legitimate relationship is refused the SCR until they use emergency access (a privacy alert), and
 * the privacy officer then sees the alert and the access in the patient's access log; a clinician
 * may self-claim a relationship instead; a clinician with a relationship (registered GP practice,
 * care episode) is asked only for the patient's permission to view, and a refusal leaves only
 * emergency access. The summaries are uploaded through the SCR API by the registered practice.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import type { AuditRecord } from '../src/audit/types.js';
import { CONSENT_CHOICE_SYSTEM } from '../src/services/scr/consent-codes.js';
import { SCR_BASE } from '../src/services/scr/routes.js';
import { SECURITY_BASE } from '../src/services/security/routes.js';
import {
  commitPatients,
  currentJane,
  living,
  NHS,
  PDS,
  SPARE_NHS,
  withNhsNumber,
} from './helpers/pds-fixtures.js';
import type { TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';
import {
  addStaff,
  browserSkip,
  expectAccessible,
  launchBrowser,
  mainText,
  openPage,
  screenshot,
  signInStaff,
  startWebPlatform,
  type WebPlatform,
} from './helpers/web-browser.js';

const NHS_SYSTEM = 'https://fhir.nhs.uk/Id/nhs-number';
const PRACTICE = 'Y12345'; // the fixtures' registered GP practice, author of the summary

const OUTSIDER = {
  id: 'dr-outside',
  name: 'Dr Olu Outside',
  pin: '1357',
  profiles: [{ role: 'R8000', org: 'A81001' }],
};
const OFFICER = {
  id: 'po-pat',
  name: 'Pat Privacy',
  pin: '9753',
  profiles: [{ role: 'R5080', org: 'A81001' }],
};
const GP = {
  id: 'dr-gp',
  name: 'Dr Gina Practice',
  pin: '2468',
  profiles: [{ role: 'R8000', org: PRACTICE }],
};
const WARD = {
  id: 'dr-ward',
  name: 'Dr Wendy Ward',
  pin: '8642',
  profiles: [{ role: 'R8000', org: 'RX101' }],
};
const profileOf = (u: { profiles: { role: string; org: string }[] }) => u.profiles[0];

/** The fixture summary (core and additional information) about this patient. */
function summaryFor(nhs: string): any {
  const doc = JSON.parse(
    readFileSync(new URL('./fixtures/scr/gp-summary.Bundle.json', import.meta.url), 'utf8'),
  );
  doc.entry.find((e: any) => e.resource.resourceType === 'Patient').resource.identifier[0].value =
    nhs;
  return doc;
}

/** The registered practice records the patient's choice and uploads their summary, through the SCR API. */
async function uploadSummary(platform: TestPlatform, nhs: string, choice = 'scr-additional') {
  const token = await platform.token('R8000', { user: 'gp-uploader', org: PRACTICE });
  const consent = await platform.request({
    method: 'POST',
    url: `${SCR_BASE}/Consent`,
    token,
    body: {
      resourceType: 'Consent',
      status: 'active',
      scope: {
        coding: [
          { system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' },
        ],
      },
      patient: { identifier: { system: NHS_SYSTEM, value: nhs } },
      policyRule: { coding: [{ system: CONSENT_CHOICE_SYSTEM, code: choice }] },
    },
  });
  assert.equal(consent.statusCode, 201, consent.body);
  if (choice === 'scr-dissent') return;
  const res = await platform.request({
    method: 'POST',
    url: `${SCR_BASE}/Bundle`,
    token,
    body: summaryFor(nhs),
  });
  assert.equal(res.statusCode, 201, res.body.slice(0, 300));
}

const auditOf = async (platform: TestPlatform, filter: (r: AuditRecord) => boolean) =>
  (await platform.repo.audit.readAudit(0, 100_000)).map((e) => e.record).filter(filter);

const scrUrl = (web: WebPlatform, nhs: string) => `${web.base}/app/patient/${nhs}/scr`;

/** The record as the SCR page shows it: the fixture's current allergies, medicines and more. */
async function assertRecordShown(page: Page): Promise<void> {
  const allergies = await page.getByTestId('scr-allergies').innerText();
  assert.match(allergies, /Allergy to penicillin[\s\S]*Urticaria \(moderate\)/);
  assert.match(allergies, /Allergy to grass pollen/);
  const medicines = await page.getByTestId('scr-medications').innerText();
  assert.match(medicines, /Paracetamol 500mg tablets/);
  assert.match(medicines, /Salbutamol 100micrograms\/dose inhaler[\s\S]*Two puffs when required/);
  assert.match(await mainText(page), /Asthma/, 'additional information, shared with consent');
}

async function useEmergencyAccess(page: Page, text: string): Promise<void> {
  await page.check('input[name=reasonCode][value=life-threatening]');
  await page.fill('#reasonText', text);
  await page.getByRole('button', { name: 'Use emergency access' }).click();
}

for (const kind of await storesUnderTest()) {
  describe(
    `web application: SCR refused until break-glass, then the privacy officer's review (${kind})`,
    { skip: browserSkip() },
    () => {
      let web: WebPlatform;
      let browser: Browser;
      const jane = NHS.jane;
      const REASON = 'Collapsed in the waiting room, unresponsive';

      before(async () => {
        web = await startWebPlatform(kind);
        await commitPatients(web.platform.repo, [living(currentJane())]);
        await addStaff(web.platform, OUTSIDER);
        await addStaff(web.platform, OFFICER);
        await uploadSummary(web.platform, jane);
        browser = await launchBrowser();
      });
      after(async () => {
        await browser?.close();
        await web?.close();
      });

      it('a clinician without a relationship is refused SCR until break-glass', async () => {
        const { page, cspViolations } = await openPage(browser);
        await signInStaff(page, web.base, OUTSIDER, profileOf(OUTSIDER));
        const refused = await page.goto(scrUrl(web, jane));
        assert.equal(refused?.status(), 200);
        const text = await mainText(page);
        assert.match(text, /does not have a legitimate relationship/);
        assert.match(text, /Self-claim a legitimate relationship/);
        assert.match(text, /Emergency access raises a privacy alert/);
        assert.doesNotMatch(text, /Allergy to penicillin/, 'nothing clinical is shown');
        await expectAccessible(page, 'SCR refused');
        await screenshot(page, 'scr-refused');

        // emergency access needs a reason code and the details
        await page.getByRole('button', { name: 'Use emergency access' }).click();
        assert.match(
          await mainText(page),
          /There is a problem.*Select the reason you need emergency access/,
        );
        assert.match(await page.title(), /^Error: /);
        await expectAccessible(page, 'emergency access with mistakes');

        await useEmergencyAccess(page, REASON);
        assert.equal(new URL(page.url()).pathname, `/app/patient/${jane}/scr`);
        const shown = await mainText(page);
        assert.match(shown, /Emergency access has been granted for 60 minutes/);
        assert.match(shown, /Viewed under emergency access/);
        await assertRecordShown(page);
        await expectAccessible(page, 'SCR view under emergency access');
        await screenshot(page, 'scr-view');
        assert.deepEqual(cspViolations, []);

        // what the platform recorded: the grant, the SCR alert the application raised, the view
        const mine = (r: AuditRecord) => r.userId === OUTSIDER.id && r.patient === jane;
        const [grant] = await auditOf(
          web.platform,
          (r) => mine(r) && r.action === 'emergency.access',
        );
        assert.equal(grant?.outcome, 'granted');
        assert.equal(grant?.detail?.reasonCode, 'life-threatening');
        assert.equal(grant?.detail?.reasonText, REASON);
        const [alert] = await auditOf(
          web.platform,
          (r) => mine(r) && r.action === 'scr.view.alert',
        );
        assert.equal(alert?.outcome, 'alert-raised');
        assert.equal(alert?.detail?.alertType, '2 Access Alert');
        assert.equal(alert?.detail?.alertReason, '5 Access made in an emergency');
        assert.equal(alert?.detail?.description, REASON);
        const views = await auditOf(
          web.platform,
          (r) => mine(r) && r.action === 'scr.view' && r.outcome === 'success',
        );
        assert.ok(
          views.some(
            (v) => v.detail?.viewBasis === 'emergency-access' && v.purpose === 'emergency-access',
          ),
          JSON.stringify(views),
        );
        const refusals = await auditOf(
          web.platform,
          (r) => mine(r) && r.outcome === 'refused 403 NO_LEGITIMATE_RELATIONSHIP',
        );
        assert.ok(refusals.length >= 1, 'the refused read is in the record too');
      });

      it('the privacy officer then sees the alert on /privacy and the access in the access log', async () => {
        const { page, cspViolations } = await openPage(browser);
        await signInStaff(page, web.base, OFFICER, profileOf(OFFICER));
        await page.goto(`${web.base}/app/privacy`);
        const rows = page.getByTestId('alert-row');
        assert.equal(await rows.count(), 1);
        const row = (await rows.first().innerText()).replace(/\s+/g, ' ');
        assert.match(row, /Emergency \(break-glass\) access/);
        assert.match(row, /Dr Olu Outside/);
        assert.match(row, /Clinical Practitioner Access Role/);
        assert.match(row, /A81001/);
        assert.match(row, /900 000 0009/);
        assert.match(row, new RegExp(`immediate risk: ${REASON}`));
        await expectAccessible(page, 'privacy alerts');
        await screenshot(page, 'privacy-alerts');

        // the access log is found by NHS Number through a form (not a query string)
        await page.fill('#nhsNumber', '900 000 0008');
        await page.getByRole('button', { name: 'See access log' }).click();
        assert.match(await mainText(page), /There is a problem.*Enter a valid NHS Number/);
        await expectAccessible(page, 'privacy alerts with mistakes');
        await page.fill('#nhsNumber', '900 000 0009');
        await page.getByRole('button', { name: 'See access log' }).click();
        assert.equal(new URL(page.url()).pathname, `/app/patient/${jane}/access-log`);
        const log = (await page.getByTestId('access-log').innerText()).replace(/\s+/g, ' ');
        assert.match(log, /Dr Olu Outside/);
        assert.match(log, /Emergency \(break-glass\) access to a patient record/);
        assert.match(log, /View a Summary Care Record .*Success .*Emergency access/);
        assert.match(log, /Refused \(NO_LEGITIMATE_RELATIONSHIP\)/);
        assert.match(log, /Upload or update a Summary Care Record/);
        await expectAccessible(page, 'access log');
        await screenshot(page, 'privacy-access-log');

        // more accesses than a page holds: the log pages as the audit search does
        for (let i = 0; i < 45; i++)
          assert.equal(
            (await web.platform.request({ url: `${PDS}/Patient/${jane}` })).statusCode,
            200,
          );
        await page.reload();
        const total = Number(/(\d+) in all/.exec(await mainText(page))?.[1]);
        assert.ok(total > 50, `total ${total}`);
        assert.equal(await page.getByTestId('access-row').count(), 50);
        await page.getByRole('link', { name: /Older entries/ }).click();
        // the click returns once the next page commits; its rows are counted once it has loaded
        await page.waitForLoadState();
        assert.match(new URL(page.url()).search, /^\?cursor=\d+\.\d+$/);
        assert.equal(await page.getByTestId('access-row').count(), total - 50);
        assert.match(await mainText(page), /gp-uploader .*Upload or update a Summary Care Record/);
        assert.ok(await page.getByRole('link', { name: /Newest entries/ }).isVisible());

        // the officer's own reads are audited as such
        const reads = await auditOf(
          web.platform,
          (r) => r.userId === OFFICER.id && r.action === 'audit.read',
        );
        assert.ok(reads.some((r) => (r.detail?.filters as any)?.patient === jane));
        assert.deepEqual(cspViolations, []);
      });
    },
  );
}

describe(
  'web application: self-claim and permission to view (sqlite)',
  { skip: browserSkip() },
  () => {
    let web: WebPlatform;
    let browser: Browser;
    const claimed = SPARE_NHS[0];
    const registered = SPARE_NHS[1];
    const episode = SPARE_NHS[2];
    const empty = SPARE_NHS[3];
    const dissented = SPARE_NHS[4];

    before(async () => {
      web = await startWebPlatform('sqlite');
      const jane = living(currentJane());
      await commitPatients(
        web.platform.repo,
        [claimed, registered, episode, empty, dissented].map((n) => withNhsNumber(jane, n)),
      );
      for (const u of [OUTSIDER, GP, WARD, OFFICER]) await addStaff(web.platform, u);
      for (const n of [claimed, registered, episode]) await uploadSummary(web.platform, n);
      await uploadSummary(web.platform, dissented, 'scr-dissent');
      // the ward's organisation is caring for one patient: a care episode, opened through the API
      const ward = await web.platform.token('R8000', { user: 'ward-clerk', org: 'RX101' });
      const opened = await web.platform.request({
        method: 'POST',
        url: `${SECURITY_BASE}/EpisodeOfCare`,
        token: ward,
        body: {
          resourceType: 'EpisodeOfCare',
          status: 'active',
          patient: { identifier: { system: NHS_SYSTEM, value: episode } },
        },
      });
      assert.equal(opened.statusCode, 201, opened.body);
      browser = await launchBrowser();
    });
    after(async () => {
      await browser?.close();
      await web?.close();
    });

    async function answerPermission(page: Page, answer: 'yes' | 'no'): Promise<void> {
      assert.match(
        await mainText(page),
        /Do you have the patient's permission to view their Summary Care Record\?/,
      );
      await page.check(`input[name=permission][value=${answer}]`);
      await page.getByRole('button', { name: 'Continue' }).click();
    }

    it('a clinician without a relationship self-claims one, is asked for permission, and sees the record', async () => {
      const { page, cspViolations } = await openPage(browser);
      await signInStaff(page, web.base, OUTSIDER, profileOf(OUTSIDER));
      await page.goto(scrUrl(web, claimed));
      assert.match(await mainText(page), /does not have a legitimate relationship/);
      await page.getByRole('button', { name: 'Self-claim relationship' }).click();
      assert.match(await mainText(page), /Enter why you have a legitimate relationship/);
      await page.fill('#claimReason', 'Walked into our urgent treatment centre');
      await page.getByRole('button', { name: 'Self-claim relationship' }).click();
      assert.match(
        await mainText(page),
        /self-claimed legitimate relationship .* has been recorded/,
      );
      // a relationship is not permission: the patient is asked first
      await page.getByRole('button', { name: 'Continue' }).click();
      assert.match(await mainText(page), /Select whether the patient gives permission/);
      await expectAccessible(page, 'permission to view with mistakes');
      await answerPermission(page, 'yes');
      assert.match(await mainText(page), /permission to view has been recorded/);
      assert.match(await mainText(page), /Viewed on the basis of The patient's permission to view/);
      await assertRecordShown(page);
      await expectAccessible(page, 'SCR view with permission');
      assert.deepEqual(cspViolations, []);

      const mine = (r: AuditRecord) => r.userId === OUTSIDER.id && r.patient === claimed;
      const [claim] = await auditOf(
        web.platform,
        (r) => mine(r) && r.action === 'relationship.claim',
      );
      assert.equal(claim?.type, 'self-claimed-relationship');
      assert.equal(claim?.detail?.reason, 'Walked into our urgent treatment centre');
      const [alert] = await auditOf(web.platform, (r) => mine(r) && r.action === 'scr.view.alert');
      assert.equal(alert?.detail?.alertType, '1 Create LR (Self Claimed)');
      const [permission] = await auditOf(
        web.platform,
        (r) => mine(r) && r.outcome === 'permission-recorded',
      );
      assert.equal(permission?.detail?.code, 'Yes');
      assert.equal(permission?.detail?.basis, 'self-claimed');

      // the privacy officer has the claim to review
      const officer = await openPage(browser);
      await signInStaff(officer.page, web.base, OFFICER, profileOf(OFFICER));
      await officer.page.goto(`${web.base}/app/privacy`);
      await officer.page.getByRole('link', { name: 'Self-claimed relationships' }).click();
      await officer.page.waitForLoadState();
      const rows = officer.page.getByTestId('alert-row');
      assert.equal(await rows.count(), 1);
      const row = (await rows.first().innerText()).replace(/\s+/g, ' ');
      assert.match(row, /Self-claimed legitimate relationship .*Dr Olu Outside/);
      assert.match(row, /900 000 0041 .*Walked into our urgent treatment centre/);
      await expectAccessible(officer.page, 'privacy alerts: self-claimed relationships');
    });

    it('a clinician at the registered GP practice is asked only for permission, then sees the record', async () => {
      const { page } = await openPage(browser);
      await signInStaff(page, web.base, GP, profileOf(GP));
      await page.goto(scrUrl(web, registered));
      assert.doesNotMatch(await mainText(page), /legitimate relationship/);
      await expectAccessible(page, 'permission to view');
      await screenshot(page, 'scr-permission');
      // emergency access is there for a patient who cannot be asked; its mistakes are shown open
      await page.getByText('The patient cannot be asked').click();
      await page.getByRole('button', { name: 'Use emergency access' }).click();
      await page.waitForLoadState();
      assert.match(await mainText(page), /Select the reason you need emergency access/);
      assert.ok(await page.locator('#reasonText').isVisible(), 'the form is shown open');
      await expectAccessible(page, 'permission to view with emergency access mistakes');
      await answerPermission(page, 'yes');
      await assertRecordShown(page);
      // a patient without a summary, and one who opted out
      await page.goto(scrUrl(web, empty));
      assert.match(await mainText(page), /does not have a Summary Care Record/);
      await page.goto(scrUrl(web, dissented));
      assert.match(await mainText(page), /opted out of having a Summary Care Record/);
      await expectAccessible(page, 'SCR dissent');
    });

    it('with a care episode, a refused permission leaves only emergency access, which overrides it', async () => {
      const { page } = await openPage(browser);
      await signInStaff(page, web.base, WARD, profileOf(WARD));
      await page.goto(scrUrl(web, episode));
      await answerPermission(page, 'no');
      const text = await mainText(page);
      assert.match(text, /has not given permission for you to view/);
      assert.doesNotMatch(text, /Self-claim/, 'only emergency access is offered');
      await expectAccessible(page, 'permission refused');
      await useEmergencyAccess(page, 'Anaphylaxis on the ward; patient cannot speak');
      assert.match(await mainText(page), /Viewed under emergency access/);
      await assertRecordShown(page);
      const [alert] = await auditOf(
        web.platform,
        (r) => r.userId === WARD.id && r.action === 'scr.view.alert',
      );
      assert.match(String(alert?.detail?.message), /Permission to view override/);
      const [refusal] = await auditOf(
        web.platform,
        (r) => r.userId === WARD.id && r.outcome === 'permission-recorded',
      );
      assert.equal(refusal?.detail?.code, 'No');
      assert.equal(refusal?.detail?.basis, 'care-episode');
    });
  },
);
