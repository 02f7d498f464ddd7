/**
 * GP2GP transfers on the patient's record in a real browser: transfers started and moved through
 * the GP2GP API by the two practices (one integrated, one the old practice could not send, one
 * waiting) show on the new practice's "GP2GP transfers" tab with their state, both practices and
 * what the state means; one opens in detail; a third practice sees none of them. Every page passes axe.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Patient } from 'fhir/r4.js';
import type { Browser } from 'playwright-core';
import {
  commitPatients,
  current,
  fixture,
  living,
  SPARE_NHS,
  withNhsNumber,
} from './helpers/pds-fixtures.js';
import { ehrBundle, GP2GP, NHS_SYSTEM, ODS } from './helpers/practice-system.js';
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

const OLD = 'B82001',
  NEW = 'C83001',
  THIRD = 'D84001';
const NHS = SPARE_NHS[10];
const NEW_GP = {
  id: 'dr-new-practice',
  name: 'Dr New Practice',
  pin: '1122',
  profiles: [{ role: 'R8000', org: NEW }],
};
const THIRD_GP = {
  id: 'dr-third-practice',
  name: 'Dr Third',
  pin: '3344',
  profiles: [{ role: 'R8000', org: THIRD }],
};

describe('web application: GP2GP transfers on the patient record', { skip: browserSkip() }, () => {
  let web: WebPlatform;
  let browser: Browser;
  const ids: Record<'integrated' | 'failed' | 'requested', string> = {
    integrated: '',
    failed: '',
    requested: '',
  };

  before(async () => {
    web = await startWebPlatform('sqlite');
    const platform = web.platform;
    // the patient has registered with the new practice; the old one still holds the record
    const patient = withNhsNumber(living(current(fixture<Patient>('Patient.json'))), NHS);
    patient.generalPractitioner![0].identifier!.value = NEW;
    await commitPatients(platform.repo, [patient]);
    const newToken = await platform.token('R8000', { org: NEW, user: `user-${NEW}` });
    const oldToken = await platform.token('R8008', { org: OLD, user: `user-${OLD}` });
    const api = async (token: string, method: string, url: string, body?: unknown) => {
      const res = await platform.request({ method, url: GP2GP + url, token, body });
      assert.ok(
        res.statusCode < 300,
        `${method} ${url}: ${res.statusCode} ${res.body.slice(0, 300)}`,
      );
      return res.json();
    };
    const request = () =>
      api(newToken, 'POST', '/Task', {
        resourceType: 'Task',
        status: 'requested',
        intent: 'order',
        for: { identifier: { system: NHS_SYSTEM, value: NHS } },
        owner: { identifier: { system: ODS, value: OLD } },
      });
    const params = (parameter: unknown[]) => ({ resourceType: 'Parameters', parameter });

    ids.integrated = (await request()).id;
    await api(
      oldToken,
      'POST',
      `/Task/${ids.integrated}/$send`,
      params([{ name: 'ehr', resource: ehrBundle(NHS) }]),
    );
    await api(
      newToken,
      'POST',
      `/Task/${ids.integrated}/$acknowledge`,
      params([{ name: 'outcome', valueCode: 'accepted' }]),
    );

    ids.failed = (await request()).id;
    await api(
      oldToken,
      'POST',
      `/Task/${ids.failed}/$acknowledge`,
      params([
        { name: 'outcome', valueCode: 'rejected' },
        { name: 'reason', valueCode: 'patient-not-registered' },
      ]),
    );
    ids.requested = (await request()).id;

    await addStaff(platform, NEW_GP);
    await addStaff(platform, THIRD_GP);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await web?.close();
  });

  it("the new practice sees the patient's transfers with their states, and one in detail", async () => {
    const { page, cspViolations } = await openPage(browser);
    await signInStaff(page, web.base, NEW_GP, NEW_GP.profiles[0]);
    await page.goto(`${web.base}/app/patient/${NHS}/transfers`);
    assert.equal(
      await page.locator('.app-record-tabs a[aria-current=page]').innerText(),
      'GP2GP transfers',
    );
    const rows = page.locator('[data-testid=transfer-row]');
    assert.equal(await rows.count(), 3);
    const stateOf = async (id: string) =>
      page
        .locator(`[data-testid=transfer-row][data-id="${id}"] [data-state]`)
        .getAttribute('data-state');
    assert.equal(await stateOf(ids.integrated), 'integrated');
    assert.equal(await stateOf(ids.failed), 'failed');
    assert.equal(await stateOf(ids.requested), 'requested');
    const rowText = async (id: string) =>
      (await page.locator(`[data-testid=transfer-row][data-id="${id}"]`).innerText()).replace(
        /\s+/g,
        ' ',
      );
    assert.match(
      await rowText(ids.requested),
      new RegExp(
        `Requested ${OLD} ${NEW} Your practice .*Waiting for the old practice, ${OLD}, to send the record`,
      ),
    );
    assert.match(
      await rowText(ids.integrated),
      /has integrated the record\. The transfer is complete/,
    );
    assert.match(await rowText(ids.failed), /The transfer failed/);
    await expectAccessible(page, 'transfers tab');
    await screenshot(page, 'gp2gp-transfers');

    await page.locator(`[data-testid=transfer-row][data-id="${ids.failed}"] a`).click();
    await page.waitForURL((u) => u.pathname.endsWith(`/transfers/${ids.failed}`));
    const detail = await mainText(page);
    assert.match(detail, /State Failed/);
    assert.match(detail, new RegExp(`Sending practice \\(holds the record\\) ${OLD}`));
    assert.match(detail, new RegExp(`Requesting practice \\(new GP\\) ${NEW} \\(your practice\\)`));
    assert.match(detail, /Reason it failed/);
    assert.match(detail, /How it started The new practice asked for the record/);
    await expectAccessible(page, 'transfer detail');
    assert.deepEqual(cspViolations, []);

    // the read went through the GP2GP API as this user, audited against the patient
    const audit = await web.platform.repo.audit.readAudit(0, 1_000_000);
    assert.ok(
      audit.some(
        (a) =>
          a.record.action === 'gp2gp.read' &&
          a.record.patient === NHS &&
          a.record.userId === NEW_GP.id,
      ),
      'the detail read is audited as the signed-in user',
    );
  });

  it('a third practice sees no transfer of the patient, not even by its reference', async () => {
    const { page } = await openPage(browser);
    await signInStaff(page, web.base, THIRD_GP, THIRD_GP.profiles[0]);
    await page.goto(`${web.base}/app/patient/${NHS}/transfers`);
    assert.equal(await page.locator('[data-testid=transfer-row]').count(), 0);
    assert.match(await mainText(page), /Your practice is not part of any GP2GP transfer/);
    await expectAccessible(page, 'transfers tab, no transfers');
    const res = await page.goto(`${web.base}/app/patient/${NHS}/transfers/${ids.integrated}`);
    assert.equal(res?.status(), 404);
    const text = await mainText(page);
    assert.match(text, /There is no transfer with this reference/);
    assert.ok(!text.includes(OLD), 'nothing of the transfer shows');
  });
});
