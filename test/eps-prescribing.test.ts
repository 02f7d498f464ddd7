/**
 * Prescribing: $prepare and $process-message, and every refusal: invalid signature, content
 * changed after signing, unregistered or revoked keys, unknown and superseded patients, bad ids,
 * invalid bundles, no relationship; duplicate submission is idempotent; nomination routes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { revokePrescriberKey } from '../src/services/eps/prescriber-keys.js';
import { PRESCRIPTION } from '../src/services/eps/prescription-model.js';
import { codeOf, statusOf } from './helpers/eps-client.js';
import { startEpsPlatform, type EpsPlatform } from './helpers/eps-platform.js';
import {
  addPatient,
  newKeyPair,
  nextNhsNumber,
  orderBundle,
  orderIds,
  registeredKey,
  signDigest,
  withSignature,
} from './helpers/eps-prescribing.js';
import { storedIssue } from './helpers/eps-states.js';
import { storesUnderTest } from './helpers/stores.js';

const stored = async (t: EpsPlatform, shortFormId: string) =>
  t.platform.repo.search({
    type: PRESCRIPTION,
    criteria: [{ any: [{ param: 'short-form', op: 'eq', value: shortFormId }] }],
    limit: 10,
  });

for (const kind of await storesUnderTest()) {
  describe(`EPS prescribing on ${kind}`, () => {
    let t: EpsPlatform;
    before(async () => {
      t = await startEpsPlatform(kind);
    });
    after(async () => t.close());

    it('$prepare assigns a short-form ID with a valid check character and a long-form UUID, and returns the digest', async () => {
      const nhs = await addPatient(t.platform.repo);
      const res = await t.eps.post(
        '/$prepare',
        orderBundle({ nhsNumber: nhs, withoutIds: true }),
        t.eps.tokens.prescriber,
      );
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const ids = orderIds(res.body.parameter.find((p: any) => p.name === 'message').resource);
      assert.match(
        ids.shortFormId,
        /^[0-9A-F]{6}-A83008-[0-9A-F]{5}[0-9A-Z+]$/,
        'short-form ID carries the practice ODS code',
      );
      assert.match(ids.longFormId, /^[0-9a-f-]{36}$/, 'long-form UUID');
      assert.match(
        res.body.parameter.find((p: any) => p.name === 'digest').valueString,
        /^[A-Za-z0-9_-]{43}$/,
        'SHA-256 digest, base64url',
      );
    });

    it('a signed prescription is accepted; ES256 and RS256 keys both verify', async () => {
      for (const alg of ['ES256', 'RS256'] as const) {
        const key = await registeredKey(t.platform.repo, 'prescriber-1', alg);
        const nhs = await addPatient(t.platform.repo);
        const signed = await t.eps.signedOrder({ nhsNumber: nhs }, key);
        const res = await t.eps.post('/$process-message', signed, t.eps.tokens.prescriber);
        assert.equal(res.status, 200, `${alg}: ${JSON.stringify(res.body)}`);
        assert.deepEqual(
          [res.body.resourceType, res.body.issue[0].severity, res.body.issue[0].code],
          ['OperationOutcome', 'information', 'informational'],
          'answered as EPS does',
        );
        assert.equal(
          statusOf(await t.eps.track('focus:identifier', orderIds(signed).shortFormId)).status,
          'to-be-dispensed',
          'to be dispensed',
        );
      }
    });

    it('refuses content changed after signing, and stores nothing', async () => {
      const nhs = await addPatient(t.platform.repo);
      const signed = await t.eps.signedOrder({ nhsNumber: nhs });
      signed.entry.find(
        (e: any) => e.resource.resourceType === 'MedicationRequest',
      ).resource.dispenseRequest.quantity.value = 200;
      const res = await t.eps.post('/$process-message', signed, t.eps.tokens.prescriber);
      assert.equal(res.status, 400, 'refused');
      assert.equal(codeOf(res), 'SIGNATURE_DIGEST_MISMATCH', JSON.stringify(res.body));
      assert.equal((await stored(t, orderIds(signed).shortFormId)).length, 0, 'nothing stored');
    });

    it('refuses an invalid signature: tampered, missing, not a JWS', async () => {
      const nhs = await addPatient(t.platform.repo);
      const signed = await t.eps.signedOrder({ nhsNumber: nhs });
      const provenance = signed.entry.find(
        (e: any) => e.resource.resourceType === 'Provenance',
      ).resource;
      const jws = Buffer.from(provenance.signature[0].data, 'base64').toString();
      const [h, p, s] = jws.split('.');
      const flipped = s.slice(0, 10) + (s[10] === 'A' ? 'B' : 'A') + s.slice(11);
      provenance.signature[0].data = Buffer.from(`${h}.${p}.${flipped}`).toString('base64');
      let res = await t.eps.post('/$process-message', signed, t.eps.tokens.prescriber);
      assert.equal(codeOf(res), 'INVALID_SIGNATURE', `tampered: ${JSON.stringify(res.body)}`);
      provenance.signature[0].data = Buffer.from('not a jws').toString('base64');
      res = await t.eps.post('/$process-message', signed, t.eps.tokens.prescriber);
      assert.equal(codeOf(res), 'INVALID_SIGNATURE', 'not a JWS');
      signed.entry = signed.entry.filter((e: any) => e.resource.resourceType !== 'Provenance');
      res = await t.eps.post('/$process-message', signed, t.eps.tokens.prescriber);
      assert.equal(codeOf(res), 'INVALID_SIGNATURE', 'unsigned');
      assert.equal((await stored(t, orderIds(signed).shortFormId)).length, 0, 'nothing stored');
    });

    it('refuses a key that is unregistered, revoked, or registered to another prescriber', async () => {
      const nhs = await addPatient(t.platform.repo);
      const unregistered = await newKeyPair();
      let res = await t.eps.post(
        '/$process-message',
        await t.eps.signedOrder({ nhsNumber: nhs }, unregistered),
        t.eps.tokens.prescriber,
      );
      assert.equal(codeOf(res), 'UNKNOWN_PRESCRIBER_KEY', 'unregistered');
      const others = await registeredKey(t.platform.repo, 'someone-else');
      res = await t.eps.post(
        '/$process-message',
        await t.eps.signedOrder({ nhsNumber: nhs }, others),
        t.eps.tokens.prescriber,
      );
      assert.equal(codeOf(res), 'UNKNOWN_PRESCRIBER_KEY', "another prescriber's key");
      const revoked = await registeredKey(t.platform.repo, 'prescriber-1');
      await revokePrescriberKey(t.platform.repo, revoked.kid);
      res = await t.eps.post(
        '/$process-message',
        await t.eps.signedOrder({ nhsNumber: nhs }, revoked),
        t.eps.tokens.prescriber,
      );
      assert.equal(codeOf(res), 'UNKNOWN_PRESCRIBER_KEY', 'revoked');
      assert.equal(res.status, 403, 'forbidden');
    });

    it('refuses an unknown patient and a superseded NHS Number (naming the survivor)', async () => {
      const unknown = nextNhsNumber();
      let res = await t.eps.post(
        '/$prepare',
        orderBundle({ nhsNumber: unknown, withoutIds: true }),
        t.eps.tokens.prescriber,
      );
      // PDS's published answer for a number it does not hold, as every service gives it (issue 17)
      assert.equal(res.status, 404, 'not found');
      assert.equal(codeOf(res), 'RESOURCE_NOT_FOUND', JSON.stringify(res.body));
      const survivor = await addPatient(t.platform.repo);
      const old = await addPatient(t.platform.repo, { replacedBy: survivor });
      res = await t.eps.post(
        '/$prepare',
        orderBundle({ nhsNumber: old, withoutIds: true }),
        t.eps.tokens.prescriber,
      );
      assert.equal(codeOf(res), 'PATIENT_SUPERSEDED', JSON.stringify(res.body));
      assert.ok(res.body.issue[0].diagnostics.includes(survivor), 'names the survivor');
      assert.ok(
        String(res.headers.location).endsWith(`/Patient/${survivor}`),
        'Location points at the surviving record',
      );
      // a message signed before the merge is refused the same way at submission
      const signed = await t.eps.signedOrder({ nhsNumber: survivor });
      signed.entry.find(
        (e: any) => e.resource.resourceType === 'Patient',
      ).resource.identifier[0].value = old;
      res = await t.eps.post('/$process-message', signed, t.eps.tokens.prescriber);
      assert.equal(codeOf(res), 'PATIENT_SUPERSEDED', 'at submission');
    });

    it('a duplicate submission returns the stored result (200) and never makes a second prescription, even when concurrent', async () => {
      const nhs = await addPatient(t.platform.repo);
      const signed = await t.eps.signedOrder({ nhsNumber: nhs });
      const first = await t.eps.post('/$process-message', signed, t.eps.tokens.prescriber);
      const again = await t.eps.post('/$process-message', signed, t.eps.tokens.prescriber);
      assert.equal(again.status, 200, 'duplicate accepted');
      assert.equal(again.headers['x-eps-duplicate'], 'true', 'marked as a duplicate');
      assert.deepEqual(again.body, first.body, 'the same answer as the first submission');
      const replays = (await t.platform.repo.audit.readAudit(0, 1_000_000)).filter(
        (a) => a.record.action === 'eps.message.replayed' && a.record.patient === nhs,
      );
      assert.ok(replays.length >= 1, 'answering a duplicate is audited as a read');
      const racing = await t.eps.signedOrder({ nhsNumber: nhs });
      const results = await Promise.all(
        Array.from({ length: 6 }, () =>
          t.eps.post('/$process-message', racing, t.eps.tokens.prescriber),
        ),
      );
      assert.deepEqual(
        results.map((r) => r.status),
        [200, 200, 200, 200, 200, 200],
        `all answered 200: ${results.map((r) => JSON.stringify(r.body).slice(0, 200))}`,
      );
      for (const s of [signed, racing]) {
        const { shortFormId } = orderIds(s);
        assert.equal((await stored(t, shortFormId)).length, 1, 'one prescription');
        const { p } = await storedIssue(t.platform.repo, shortFormId);
        assert.equal(p.events.length, 1, 'created once');
        const created = (await t.platform.repo.messaging.readOutbox(0, 100_000)).filter(
          (m) =>
            m.topic === 'eps.prescription.created' && (m.body as any).shortFormId === shortFormId,
        );
        assert.equal(created.length, 1, 'one created message');
      }
    });

    it('refuses the same prescription id with different content', async () => {
      const nhs = await addPatient(t.platform.repo);
      const signed = await t.eps.signedOrder({ nhsNumber: nhs });
      assert.equal(
        (await t.eps.post('/$process-message', signed, t.eps.tokens.prescriber)).status,
        200,
        'first accepted',
      );
      const ids = orderIds(signed);
      const other = orderBundle({
        nhsNumber: nhs,
        shortFormId: ids.shortFormId,
        longFormId: ids.longFormId,
        items: 1,
      });
      const prepared = await t.eps.post('/$prepare', other, t.eps.tokens.prescriber);
      const digest = prepared.body.parameter.find((p: any) => p.name === 'digest').valueString;
      const res = await t.eps.post(
        '/$process-message',
        withSignature(other, await signDigest(t.eps.key, digest)),
        t.eps.tokens.prescriber,
      );
      assert.equal(res.status, 409, 'conflict');
      assert.equal(codeOf(res), 'DUPLICATE_REJECTED', JSON.stringify(res.body));
    });

    const badOrders: [string, (b: any) => void, string][] = [
      [
        'a wrong check character',
        (b) => {
          for (const r of requests(b))
            r.groupIdentifier.value =
              r.groupIdentifier.value.slice(0, -1) +
              (r.groupIdentifier.value.endsWith('A') ? 'B' : 'A');
        },
        'FAILURE_TO_PROCESS_MESSAGE',
      ],
      [
        'a short-form ID of another practice',
        (b) => {
          for (const r of requests(b)) r.groupIdentifier.value = '24F5DA-B81001-7EFE6Z';
        },
        'FAILURE_TO_PROCESS_MESSAGE',
      ],
      [
        'a long-form ID that is not a UUID',
        (b) => {
          for (const r of requests(b)) r.groupIdentifier.extension[0].valueIdentifier.value = 'abc';
        },
        'INVALID_PRESCRIPTION_ID',
      ],
      [
        'items of different prescriptions',
        (b) => {
          requests(b)[1].groupIdentifier.extension[0].valueIdentifier.value = randomUUID();
        },
        'INVALID_VALUE',
      ],
      [
        'the wrong message event',
        (b) => {
          b.entry[0].resource.eventCoding.code = 'prescription-order-response';
        },
        'INVALID_VALUE',
      ],
      // the event decides the activity: a prescriber may not send a dispense notification
      [
        'the dispense-notification event',
        (b) => {
          b.entry[0].resource.eventCoding.code = 'dispense-notification';
        },
        'ACCESS_DENIED',
      ],
      [
        'no dm+d code',
        (b) => {
          requests(b)[0].medicationCodeableConcept.coding[0].system = 'http://example.org';
        },
        'INVALID_CODE',
      ],
      [
        'no quantity',
        (b) => {
          delete requests(b)[0].dispenseRequest.quantity;
        },
        'INVALID_VALUE',
      ],
      [
        'a subject that is not the Patient',
        (b) => {
          requests(b)[0].subject.reference = 'urn:uuid:nowhere';
        },
        'INVALID_REFERENCE',
      ],
      [
        'an invalid NHS Number',
        (b) => {
          b.entry.find(
            (e: any) => e.resource.resourceType === 'Patient',
          ).resource.identifier[0].value = '1234567890';
        },
        'INVALID_RESOURCE_ID',
      ],
      [
        'no Bundle identifier',
        (b) => {
          delete b.identifier;
        },
        'INVALID_VALUE',
      ],
      [
        'a repeat-dispensing course without an interval',
        (b) => {
          for (const r of requests(b)) {
            r.courseOfTherapyType.coding[0].code = 'continuous-repeat-dispensing';
            r.dispenseRequest.numberOfRepeatsAllowed = 2;
            delete r.dispenseRequest.expectedSupplyDuration;
          }
        },
        'INVALID_VALUE',
      ],
      [
        'an unknown course of therapy',
        (b) => {
          for (const r of requests(b)) r.courseOfTherapyType.coding[0].code = 'sometimes';
        },
        'INVALID_VALUE',
      ],
    ];
    for (const [what, spoil, code] of badOrders) {
      it(`refuses an order with ${what} (${code})`, async () => {
        const nhs = await addPatient(t.platform.repo);
        const signed = await t.eps.signedOrder({ nhsNumber: nhs });
        spoil(signed);
        const res = await t.eps.post('/$process-message', signed, t.eps.tokens.prescriber);
        assert.ok(res.status >= 400 && res.status < 500, `4xx, got ${res.status}`);
        assert.equal(codeOf(res), code, JSON.stringify(res.body));
      });
    }

    it('refuses a dispenser role, a sender that is not the caller, and a practice with no relationship', async () => {
      const nhs = await addPatient(t.platform.repo);
      const signed = await t.eps.signedOrder({ nhsNumber: nhs });
      let res = await t.eps.post('/$process-message', signed, t.eps.tokens.pharmacy);
      assert.equal(res.status, 403, 'a pharmacist cannot prescribe');
      const elsewhere = await t.platform.token('R8000', { user: 'prescriber-1', org: 'B81001' });
      res = await t.eps.post('/$process-message', signed, elsewhere);
      assert.equal(codeOf(res), 'ACCESS_DENIED', 'sender must be the caller');
      const stranger = await addPatient(t.platform.repo, { gp: 'C82001' });
      res = await t.eps.post(
        '/$prepare',
        orderBundle({ nhsNumber: stranger, withoutIds: true }),
        t.eps.tokens.prescriber,
      );
      assert.equal(codeOf(res), 'NO_LEGITIMATE_RELATIONSHIP', JSON.stringify(res.body));
    });

    it("routes a nominated patient's prescription to the nominated pharmacy's queue only", async () => {
      const nominated = await addPatient(t.platform.repo);
      const walkIn = await addPatient(t.platform.repo, { nominated: null });
      const a = await t.eps.prescribe({ nhsNumber: nominated });
      const b = await t.eps.prescribe({ nhsNumber: walkIn });
      const other = await t.eps.release(undefined, t.eps.tokens.otherPharmacy, 50);
      assert.equal(other.status, 200, 'an empty queue is not an error');
      assert.ok(
        !JSON.stringify(other.body).includes(a.ids.shortFormId),
        "not in another pharmacy's queue",
      );
      let found = false;
      for (let i = 0; i < 20 && !found; i++) {
        const mine = await t.eps.release(undefined, t.eps.tokens.pharmacy, 50);
        assert.equal(mine.status, 200, JSON.stringify(mine.body));
        assert.ok(
          !JSON.stringify(mine.body).includes(b.ids.shortFormId),
          'a non-nominated prescription is in no queue',
        );
        found = JSON.stringify(mine.body).includes(a.ids.shortFormId);
        if (mine.body.total === 0) break;
      }
      assert.ok(found, "released from the nominated pharmacy's queue");
      const token = await t.eps.release(b.ids.shortFormId, t.eps.tokens.otherPharmacy);
      assert.equal(
        token.status,
        200,
        'any pharmacy releases a non-nominated prescription with the token',
      );
    });
  });
}

function requests(b: any): any[] {
  return b.entry
    .filter((e: any) => e.resource.resourceType === 'MedicationRequest')
    .map((e: any) => e.resource);
}
