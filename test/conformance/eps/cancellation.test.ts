/**
 * EPS cancellations as NHS England publishes them: each published prescription-order-update
 * (test/fixtures/eps/published/cancellation/, SOURCES.md there) submitted against a prescription
 * made through OpenSpine, and the answer compared with the published one: HTTP status, the
 * prescription-order-response Bundle, the R- codes in their published code system, and the
 * OperationOutcome codes. Examples that cannot apply: /tmp/eps-setaside-cancellation.md.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { sweepPrescriptions } from '../../../src/services/eps/expiry-sweep.js';
import { startEpsPlatform, type EpsPlatform } from '../../helpers/eps-platform.js';
import { addPatient, GP_ORG } from '../../helpers/eps-prescribing.js';
import { storedIssue } from '../../helpers/eps-states.js';
import { storesUnderTest } from '../../helpers/stores.js';
import {
  answerShape,
  cancellationFor,
  CODE_SYSTEM,
  postPublished,
  prescribeFrom,
  published,
  requests,
  resourceOf,
  type Made,
} from './cancellation-support.js';

const MP = 'primary-care/acute/nominated-pharmacy/medical-prescriber/cancellations';
const ERR = 'spec/errors/prescription-order-update';
const day = (n: number) => new Date(Date.now() + n * 86_400_000).toISOString().slice(0, 10);
const asPrescribed = (m: Made) => ({
  ids: m.ids,
  signed: m.signed,
  response: { status: 200, body: null, headers: {} },
});

for (const kind of await storesUnderTest()) {
  describe(`EPS cancellation, as published, on ${kind}`, () => {
    let t: EpsPlatform;
    before(async () => {
      t = await startEpsPlatform(kind);
    });
    after(async () => t.close());

    const cancelled = answerShape(published(`${MP}/2-Process-Response-Cancel-200_OK.json`));

    for (let n = 1; n <= 9; n++) {
      it(`${MP}/${n}-Process-Request-Cancel: 200, prescription-order-response, R-0001`, async () => {
        const nhs = await addPatient(t.platform.repo);
        const made = await prescribeFrom(
          t,
          published(`${MP}/${n}-Process-Request-Send-200_OK.json`),
          nhs,
        );
        const cancel = cancellationFor(
          published(`${MP}/${n}-Process-Request-Cancel-200_OK.json`),
          made,
          nhs,
        );
        const res = await postPublished(t, '/$process-message', cancel, t.eps.tokens.prescriber);
        assert.equal(res.status, 200, JSON.stringify(res.body).slice(0, 400));
        assert.deepEqual(
          answerShape(res.body),
          cancelled,
          'the published response (2-Process-Response-Cancel)',
        );
        assert.deepEqual(
          requests(res.body)[0].statusReason,
          requests(cancel)[0].statusReason,
          'the reason given is the one sent',
        );
        assert.equal(
          requests(res.body)[0].groupIdentifier.value,
          made.ids.shortFormId,
          'names the prescription',
        );
        assert.equal(resourceOf(res.body, 'Patient').identifier[0].value, nhs, 'names the patient');
        assert.equal(
          (await storedIssue(t.platform.repo, made.ids.shortFormId)).p.status,
          'cancelled',
          'stored cancelled',
        );
      });
    }

    it('primary-care/acute/nominated-pharmacy/responsible-party-org/cancellations/3-Process-Request-Cancel: 200, R-0001', async () => {
      const nhs = await addPatient(t.platform.repo);
      const made = await prescribeFrom(
        t,
        published(`${MP}/2-Process-Request-Send-200_OK.json`),
        nhs,
      );
      const cancel = cancellationFor(
        published(
          'primary-care/acute/nominated-pharmacy/responsible-party-org/cancellations/3-Process-Request-Cancel-200_OK.json',
        ),
        made,
        nhs,
      );
      const res = await postPublished(t, '/$process-message', cancel, t.eps.tokens.prescriber);
      assert.equal(res.status, 200, JSON.stringify(res.body).slice(0, 400));
      assert.deepEqual(answerShape(res.body), cancelled);
    });

    for (const name of ['repeat', 'eRD'] as const) {
      it(`spec/prescribing/prescription-order-update/${name}-primary-example-req: 200, as ${name}-primary-example-res`, async () => {
        const nhs = await addPatient(t.platform.repo);
        const req = published(
          `spec/prescribing/prescription-order-update/${name}-primary-example-req.json`,
        );
        const made = await prescribeFrom(
          t,
          published(`${MP}/2-Process-Request-Send-200_OK.json`),
          nhs,
          (b) => {
            const src = requests(req)[0];
            for (const r of requests(b)) {
              r.courseOfTherapyType = src.courseOfTherapyType;
              r.extension = [
                ...(r.extension ?? []),
                ...(src.extension ?? []).filter((x: any) =>
                  String(x.url).endsWith('MedicationRepeatInformation'),
                ),
              ];
              if (src.dispenseRequest.numberOfRepeatsAllowed !== undefined)
                r.dispenseRequest.numberOfRepeatsAllowed =
                  src.dispenseRequest.numberOfRepeatsAllowed;
              r.dispenseRequest.expectedSupplyDuration =
                src.dispenseRequest.expectedSupplyDuration ??
                r.dispenseRequest.expectedSupplyDuration;
              if (src.basedOn) r.basedOn = src.basedOn;
            }
          },
        );
        const res = await postPublished(
          t,
          '/$process-message',
          cancellationFor(req, made, nhs),
          t.eps.tokens.prescriber,
        );
        assert.equal(res.status, 200, JSON.stringify(res.body).slice(0, 400));
        assert.deepEqual(
          answerShape(res.body),
          answerShape(
            published(
              `spec/prescribing/prescription-order-update/${name}-primary-example-res.json`,
            ),
          ),
        );
      });
    }

    /**
     * A prescription from 1-Process-Request-Send in the state the error needs, and the
     * 1-Process-Request-Cancel for it.
     */
    async function scenario(
      prepare: (made: Made, nhs: string) => Promise<void>,
      shape?: (b: any) => void,
    ) {
      const nhs = await addPatient(t.platform.repo);
      const made = await prescribeFrom(
        t,
        published(`${MP}/1-Process-Request-Send-200_OK.json`),
        nhs,
        shape,
      );
      await prepare(made, nhs);
      return {
        nhs,
        made,
        cancel: cancellationFor(published(`${MP}/1-Process-Request-Cancel-200_OK.json`), made, nhs),
      };
    }
    const released = async (m: Made) => {
      assert.equal((await t.eps.release(m.ids.shortFormId)).status, 200, 'released');
    };
    async function expectPublished(res: { status: number; body: any }, code: string) {
      assert.equal(
        res.status,
        400,
        `published status 400: ${JSON.stringify(res.body).slice(0, 400)}`,
      );
      assert.deepEqual(
        answerShape(res.body),
        answerShape(published(`${ERR}/${code}-Cancellation.json`)),
        `as ${ERR}/${code}-Cancellation.json`,
      );
    }

    it(`${ERR}/R-0002: with dispenser, not cancelled, marked for cancellation`, async () => {
      const s = await scenario(async (m) => released(m));
      const before = await storedIssue(t.platform.repo, s.made.ids.shortFormId);
      await expectPublished(
        await postPublished(t, '/$process-message', s.cancel, t.eps.tokens.prescriber),
        'R-0002',
      );
      const after = await storedIssue(t.platform.repo, s.made.ids.shortFormId);
      assert.equal(after.p.status, 'with-dispenser', 'still with the dispenser');
      assert.equal(after.version, before.version + 1, 'the mark is written');
      assert.deepEqual(
        [after.p.events.at(-1)!.transition, after.p.events.at(-1)!.user],
        ['cancellation-requested', 'prescriber-1'],
        'marked for cancellation, by whom',
      );
      assert.ok(
        after.p.items.every((i) => i.status !== 'cancelled'),
        'no item cancelled',
      );
    });

    it(`${ERR}/R-0003: with dispenser active, marked for cancellation`, async () => {
      const s = await scenario(async (m, nhs) => {
        await released(m);
        assert.equal(
          (
            await t.eps.dispense(asPrescribed(m), nhs, [
              { item: m.ids.items[0], code: '0003', quantity: 5 },
            ])
          ).status,
          200,
        );
      });
      await expectPublished(
        await postPublished(t, '/$process-message', s.cancel, t.eps.tokens.prescriber),
        'R-0003',
      );
      const after = await storedIssue(t.platform.repo, s.made.ids.shortFormId);
      assert.deepEqual(
        [after.p.status, after.p.events.at(-1)!.transition],
        ['with-dispenser-active', 'cancellation-requested'],
      );
    });

    it(`${ERR}/R-0007: a cancellation from another prescriber of a prescription already marked for cancellation`, async () => {
      const s = await scenario(async (m) => released(m));
      await expectPublished(
        await postPublished(t, '/$process-message', s.cancel, t.eps.tokens.prescriber),
        'R-0002',
      );
      const before = await storedIssue(t.platform.repo, s.made.ids.shortFormId);
      const other = await t.platform.token('R8000', { user: 'prescriber-2', org: GP_ORG });
      const again = structuredClone(s.cancel);
      again.identifier.value = randomUUID();
      await expectPublished(await postPublished(t, '/$process-message', again, other), 'R-0007');
      assert.equal(
        (await storedIssue(t.platform.repo, s.made.ids.shortFormId)).version,
        before.version,
        'nothing more written',
      );
    });

    it(`${ERR}/R-0004: dispensed, not cancelled`, async () => {
      const s = await scenario(async (m, nhs) => {
        await released(m);
        assert.equal((await t.eps.dispenseAll(asPrescribed(m), nhs)).status, 200);
      });
      const before = await storedIssue(t.platform.repo, s.made.ids.shortFormId);
      await expectPublished(
        await postPublished(t, '/$process-message', s.cancel, t.eps.tokens.prescriber),
        'R-0004',
      );
      assert.equal(
        (await storedIssue(t.platform.repo, s.made.ids.shortFormId)).version,
        before.version,
        'nothing written',
      );
    });

    it(`${ERR}/R-0010: not dispensed, not cancelled`, async () => {
      const s = await scenario(async (m, nhs) => {
        await released(m);
        assert.equal(
          (
            await t.eps.dispense(
              asPrescribed(m),
              nhs,
              m.ids.items.map((item) => ({
                item,
                code: '0002' as const,
                quantity: 0,
                reason: '0001',
              })),
            )
          ).status,
          200,
        );
      });
      await expectPublished(
        await postPublished(t, '/$process-message', s.cancel, t.eps.tokens.prescriber),
        'R-0010',
      );
    });

    it(`${ERR}/R-0005: expired`, async () => {
      const s = await scenario(
        async () => {
          await sweepPrescriptions(t.platform.repo, new Date());
        },
        (b) => {
          for (const r of requests(b))
            r.dispenseRequest.validityPeriod = { start: day(-400), end: day(-1) };
        },
      );
      assert.equal(
        (await storedIssue(t.platform.repo, s.made.ids.shortFormId)).p.status,
        'expired',
        'expired first',
      );
      await expectPublished(
        await postPublished(t, '/$process-message', s.cancel, t.eps.tokens.prescriber),
        'R-0005',
      );
    });

    it(`${ERR}/R-0006: already cancelled`, async () => {
      const s = await scenario(async () => {});
      assert.equal(
        (await postPublished(t, '/$process-message', s.cancel, t.eps.tokens.prescriber)).status,
        200,
        'first cancellation',
      );
      const again = structuredClone(s.cancel);
      again.identifier.value = randomUUID();
      await expectPublished(
        await postPublished(t, '/$process-message', again, t.eps.tokens.prescriber),
        'R-0006',
      );
    });

    it(`${ERR}/R-0008: prescription not found`, async () => {
      const nhs = await addPatient(t.platform.repo);
      const never: Made = {
        ids: {
          shortFormId: '7EE792-A83008-4EC8BZ',
          longFormId: randomUUID(),
          items: [randomUUID()],
        },
        signed: null,
      };
      const cancel = cancellationFor(
        published(`${MP}/1-Process-Request-Cancel-200_OK.json`),
        never,
        nhs,
      );
      await expectPublished(
        await postPublished(t, '/$process-message', cancel, t.eps.tokens.prescriber),
        'R-0008',
      );
    });

    it(`${ERR}/R-5000: the cancellation names another patient`, async () => {
      const s = await scenario(async () => {});
      const other = await addPatient(t.platform.repo);
      resourceOf(s.cancel, 'Patient').identifier[0].value = other;
      await expectPublished(
        await postPublished(t, '/$process-message', s.cancel, t.eps.tokens.prescriber),
        'R-5000',
      );
      assert.equal(
        (await storedIssue(t.platform.repo, s.made.ids.shortFormId)).p.status,
        'to-be-dispensed',
        'not cancelled',
      );
    });

    it('the response codes are in the published code system', () => {
      const codes = (published(`${ERR}/R-0002-Cancellation.json`).entry as any[])
        .flatMap((e) => e.resource.extension ?? [])
        .flatMap((x: any) => x.extension ?? [])
        .map((x: any) => x.valueCoding?.system)
        .filter(Boolean);
      assert.deepEqual([...new Set(codes)], [CODE_SYSTEM]);
    });

    it('a marked-for-cancellation issue returned to EPS by the dispenser becomes cancelled (the R-0002 mark takes effect)', async () => {
      const s = await scenario(async (m) => released(m));
      await expectPublished(
        await postPublished(t, '/$process-message', s.cancel, t.eps.tokens.prescriber),
        'R-0002',
      );
      assert.equal((await t.eps.returnToSpine(s.made.ids.shortFormId)).status, 200);
      const after = await storedIssue(t.platform.repo, s.made.ids.shortFormId);
      assert.equal(after.p.status, 'cancelled');
      assert.ok(
        after.p.items.every((i) => i.status === 'cancelled'),
        'every item named by the cancellation is cancelled',
      );
      assert.equal(after.p.events.at(-1)!.transition, 'returned');
      // a return with no cancellation standing leaves the issue to be dispensed again
      const plain = await scenario(async (m) => released(m));
      assert.equal((await t.eps.returnToSpine(plain.made.ids.shortFormId)).status, 200);
      assert.equal(
        (await storedIssue(t.platform.repo, plain.made.ids.shortFormId)).p.status,
        'to-be-dispensed',
      );
    });
  });
}
