/**
 * The prescription tracker in a real browser: prescriptions made, released and dispensed through
 * the EPS API (so their items are in several states); a pharmacist at the nominated pharmacy and
 * the prescriber at the GP practice track them by prescription ID and by NHS Number and see each
 * item's status and the history; a pharmacy with no relationship is refused on the page; a patient
 * sees their own prescriptions in plain words and not another patient's. Every page passes axe.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { EpsClient, PRESCRIBER_USER, type Prescribed } from './helpers/eps-client.js';
import { injectSend } from './helpers/eps-platform.js';
import { addPatient, GP_ORG, OTHER_PHARMACY, PHARMACY } from './helpers/eps-prescribing.js';
import {
  addPatientAccount,
  addStaff,
  browserSkip,
  expectAccessible,
  launchBrowser,
  mainText,
  openPage,
  screenshot,
  signInPatient,
  signInStaff,
  startWebPlatform,
  type WebPlatform,
} from './helpers/web-browser.js';

const PRESCRIBER = {
  id: 'dr-eps-web',
  name: 'Dr Eps Prescriber',
  pin: '1357',
  profiles: [{ role: 'R8000', org: GP_ORG }],
};
const PHARMACIST = {
  id: 'pharm-eps-web',
  name: 'Pat Pharmacist',
  pin: '2468',
  profiles: [{ role: 'R8003', org: PHARMACY }],
};
const FAR_PHARMACIST = {
  id: 'pharm-far-web',
  name: 'Far Pharmacist',
  pin: '3579',
  profiles: [{ role: 'R8003', org: 'FZZ91' }],
};

/** The status codes of the tags in a locator, in order (data-status carries OpenSpine's name). */
async function statuses(page: Page, selector: string): Promise<string[]> {
  return page
    .locator(`${selector} [data-status]`)
    .evaluateAll((els) => els.map((e) => e.getAttribute('data-status') ?? ''));
}

describe('web application: prescription tracker', { skip: browserSkip() }, () => {
  let web: WebPlatform;
  let browser: Browser;
  let eps: EpsClient;
  let nhs: string;
  let otherNhs: string;
  /** partly dispensed (3 items: partial, owing, not yet reported), waiting, fully dispensed. */
  let active: Prescribed, waiting: Prescribed, done: Prescribed, theirs: Prescribed;

  before(async () => {
    web = await startWebPlatform('sqlite');
    const platform = web.platform;
    eps = await EpsClient.forRepo(injectSend(platform), platform.repo, {
      prescriber: await platform.token('R8000', { user: PRESCRIBER_USER, org: GP_ORG }),
      pharmacy: await platform.token('R8003', { user: 'pharmacist-1', org: PHARMACY }),
      otherPharmacy: await platform.token('R8003', { user: 'pharmacist-2', org: OTHER_PHARMACY }),
    });
    nhs = await addPatient(platform.repo); // registered at GP_ORG, nominates PHARMACY
    otherNhs = await addPatient(platform.repo);
    done = await eps.prescribe({ nhsNumber: nhs, items: 2 });
    assert.equal((await eps.release(done.ids.shortFormId)).status, 200);
    assert.equal((await eps.dispenseAll(done, nhs)).status, 200);
    waiting = await eps.prescribe({ nhsNumber: nhs, items: 2 });
    active = await eps.prescribe({ nhsNumber: nhs, items: 3 });
    assert.equal((await eps.release(active.ids.shortFormId)).status, 200);
    const [a, b] = active.ids.items;
    const dispensed = await eps.dispense(active, nhs, [
      { item: a, code: '0003', quantity: 10 },
      { item: b, code: '0004', quantity: 0 },
    ]);
    assert.equal(dispensed.status, 200, JSON.stringify(dispensed.body).slice(0, 300));
    theirs = await eps.prescribe({ nhsNumber: otherNhs, items: 1 });
    await addStaff(platform, PRESCRIBER);
    await addStaff(platform, PHARMACIST);
    await addStaff(platform, FAR_PHARMACIST);
    await addPatientAccount(platform, {
      id: 'eps.patient',
      name: 'Eps Testpatient',
      pin: 'patient-pass-eps',
      nhsNumber: nhs,
    });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await web?.close();
  });

  it('a pharmacist at the nominated pharmacy tracks a prescription by its ID: items and history', async () => {
    const { page, cspViolations } = await openPage(browser);
    await signInStaff(page, web.base, PHARMACIST, PHARMACIST.profiles[0]);
    await page.getByRole('link', { name: 'Prescription tracker' }).first().click();
    assert.equal(new URL(page.url()).pathname, '/app/prescriptions');
    await expectAccessible(page, 'tracker form');

    // a mistake first: the form comes back with the error summary, status 400
    await page.fill('#search', 'not-an-id');
    const [bad] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/app/prescriptions')),
      page.getByRole('button', { name: 'Search' }).click(),
    ]);
    assert.equal(bad.status(), 400);
    assert.match(await mainText(page), /There is a problem.*Enter a prescription ID like/);
    await expectAccessible(page, 'tracker form with an error');

    await page.fill('#search', active.ids.shortFormId.toLowerCase());
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL((u) => u.pathname.startsWith('/app/prescriptions/'));
    assert.equal(
      decodeURIComponent(new URL(page.url()).pathname),
      `/app/prescriptions/${active.ids.shortFormId}`,
    );
    const text = await mainText(page);
    assert.match(text, new RegExp(`Prescription ${active.ids.shortFormId.replace('+', '\\+')}`));
    assert.match(text, /With Dispenser - Active/);
    assert.deepEqual(
      await statuses(page, '[data-testid=prescription-items]'),
      ['partial', 'owing', 'with-dispenser'],
      'each line item with its own status',
    );
    assert.match(text, /Amoxicillin 250mg capsules Item dispensed - partial 10 tablet/);
    assert.match(text, /Co-codamol 30mg\/500mg tablets Item not dispensed owing/);
    const history = await page
      .locator('[data-testid=history-row]')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-transition')));
    assert.deepEqual(history, ['created', 'released', 'dispensed'], 'the history, oldest first');
    assert.match(
      text,
      new RegExp(`Downloaded by a pharmacy.*To Be Dispensed to With Dispenser ${PHARMACY}`),
    );
    assert.match(text, new RegExp(`Prescribed and signed by the prescriber.*${GP_ORG}`));
    // the patient the tracker names is in the banner
    assert.equal((await page.getByTestId('banner-nhs-number').innerText()).replace(/\s/g, ''), nhs);
    await expectAccessible(page, 'prescription detail');
    await screenshot(page, 'prescription-detail');

    // an ID of the right shape whose check character is wrong: EPS's refusal, explained
    const id = active.ids.shortFormId;
    const wrong = `${id.slice(0, -1)}${id.endsWith('0') ? '1' : '0'}`;
    const refused = await page.goto(`${web.base}/app/prescriptions/${encodeURIComponent(wrong)}`);
    assert.equal(refused?.status(), 400);
    assert.match(await mainText(page), /could not run this search.*INVALID_PRESCRIPTION_ID/);
    await expectAccessible(page, 'prescription ID refused');

    const audit = await web.platform.repo.audit.readAudit(0, 1_000_000);
    assert.ok(
      audit.some(
        (a) =>
          a.record.action === 'eps.tracker.read' &&
          a.record.patient === nhs &&
          a.record.userId === PHARMACIST.id &&
          a.record.org === PHARMACY,
      ),
      "the pharmacist's tracker read is audited as theirs",
    );
    assert.deepEqual(cspViolations, []);
  });

  it('the prescriber tracks by NHS Number, opens a prescription, and sees the record tab', async () => {
    const { page, cspViolations } = await openPage(browser);
    await signInStaff(page, web.base, PRESCRIBER, PRESCRIBER.profiles[0]);
    await page.goto(`${web.base}/app/prescriptions`);
    await page.fill('#search', `${nhs.slice(0, 3)} ${nhs.slice(3, 6)} ${nhs.slice(6)}`);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForLoadState();
    const rows = page.locator('[data-testid=prescription-row]');
    assert.equal(await rows.count(), 3, 'the three prescriptions of the patient');
    const text = await mainText(page);
    for (const p of [active, waiting, done]) assert.ok(text.includes(p.ids.shortFormId));
    assert.ok(!text.includes(theirs.ids.shortFormId), "not another patient's");
    const byId = async (p: Prescribed) =>
      statuses(page, `[data-testid=prescription-row]:has(a:text-is("${p.ids.shortFormId}"))`);
    assert.deepEqual(await byId(active), [
      'with-dispenser-active',
      'partial',
      'owing',
      'with-dispenser',
    ]);
    assert.deepEqual(await byId(waiting), [
      'to-be-dispensed',
      'to-be-dispensed',
      'to-be-dispensed',
    ]);
    assert.deepEqual(await byId(done), ['dispensed', 'dispensed', 'dispensed']);
    assert.match(
      text,
      new RegExp(`To Be Dispensed ${GP_ORG} Not yet downloaded \\(nominated: ${PHARMACY}\\)`),
    );
    await expectAccessible(page, 'tracker results');
    await screenshot(page, 'prescriptions-tracker');

    await page.getByRole('link', { name: done.ids.shortFormId }).click();
    await page.waitForURL((u) => u.pathname.startsWith('/app/prescriptions/'));
    assert.deepEqual(await statuses(page, '[data-testid=prescription-items]'), [
      'dispensed',
      'dispensed',
    ]);
    assert.match(
      await mainText(page),
      /Dispense notification sent by the pharmacy \(Amoxicillin 250mg capsules: item fully dispensed/,
    );

    // the same list on the patient's record, under its Prescriptions tab
    await page.goto(`${web.base}/app/patient/${nhs}/prescriptions`);
    const tab = page.locator('.app-record-tabs a[aria-current=page]');
    assert.equal(await tab.innerText(), 'Prescriptions');
    assert.equal(await page.locator('[data-testid=prescription-row]').count(), 3);
    await expectAccessible(page, 'patient prescriptions tab');
    assert.deepEqual(cspViolations, []);
  });

  it('a pharmacy with no relationship with the patient is told why, and sees nothing', async () => {
    const { page } = await openPage(browser);
    await signInStaff(page, web.base, FAR_PHARMACIST, FAR_PHARMACIST.profiles[0]);
    await page.goto(`${web.base}/app/prescriptions`);
    await page.fill('#search', nhs);
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/app/prescriptions')),
      page.getByRole('button', { name: 'Search' }).click(),
    ]);
    assert.equal(res.status(), 403);
    const text = await mainText(page);
    assert.match(text, /You cannot see these prescriptions/);
    assert.match(text, /NO_LEGITIMATE_RELATIONSHIP/);
    assert.ok(!text.includes(active.ids.shortFormId), 'no prescription shown');
    await expectAccessible(page, 'tracker refused');
    const detail = await page.goto(
      `${web.base}/app/prescriptions/${encodeURIComponent(done.ids.shortFormId)}`,
    );
    assert.equal(detail?.status(), 403);
    assert.doesNotMatch(await mainText(page), /Amoxicillin/);
  });

  it("a patient sees their own prescriptions in plain words, and not anyone else's", async () => {
    const { page, cspViolations } = await openPage(browser);
    await signInPatient(page, web.base, { id: 'eps.patient', pin: 'patient-pass-eps' });
    await page.getByRole('link', { name: 'My prescriptions' }).first().click();
    await page.waitForLoadState();
    assert.equal(new URL(page.url()).pathname, '/app/me/prescriptions');
    const cards = page.locator('[data-testid=my-prescription]');
    assert.equal(await cards.count(), 3);
    const cardText = async (p: Prescribed) =>
      (
        await page
          .locator(`[data-testid=my-prescription][data-id="${p.ids.shortFormId}"]`)
          .innerText()
      ).replace(/\s+/g, ' ');
    assert.match(await cardText(active), /With pharmacy, partly supplied/);
    assert.match(await cardText(active), /Amoxicillin 250mg capsules: Partly supplied/);
    assert.match(
      await cardText(active),
      /Co-codamol 30mg\/500mg tablets: Owed to you by the pharmacy/,
    );
    assert.match(await cardText(waiting), /Waiting for a pharmacy/);
    assert.match(await cardText(done), /Collected/);
    assert.ok(!(await mainText(page)).includes(theirs.ids.shortFormId));
    await expectAccessible(page, 'my prescriptions');
    await screenshot(page, 'me-prescriptions');

    await page
      .locator(`[data-testid=my-prescription][data-id="${done.ids.shortFormId}"] a`)
      .click();
    await page.waitForURL((u) => u.pathname.startsWith('/app/me/prescriptions/'));
    const detail = await mainText(page);
    assert.match(detail, /Your prescription.*Collected/);
    assert.match(
      detail,
      /Your prescriber sent the prescription.*A pharmacy got the prescription to prepare it.*The pharmacy recorded what it gave you/,
    );
    await expectAccessible(page, 'my prescription');

    // another patient's prescription, by its ID: not found, and nothing of it shown
    const res = await page.goto(
      `${web.base}/app/me/prescriptions/${encodeURIComponent(theirs.ids.shortFormId)}`,
    );
    assert.equal(res?.status(), 404);
    const refused = await mainText(page);
    assert.match(refused, /We could not find a prescription of yours/);
    assert.doesNotMatch(refused, /Amoxicillin|Waiting for a pharmacy/);
    assert.ok(!refused.includes(otherNhs));
    await expectAccessible(page, 'my prescription not found');
    // and the staff tracker is not for patients
    assert.equal((await page.goto(`${web.base}/app/prescriptions`))?.status(), 403);
    assert.deepEqual(cspViolations, []);
  });
});
