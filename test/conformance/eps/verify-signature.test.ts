/**
 * POST /$verify-signature as EPS published it (examples/sandbox/VerifySignature-Response-200_OK.json):
 * a Parameters resource, one part per prescription with its messageIdentifier and an
 * OperationOutcome result; OpenSpine's prescriber-key check decides valid or not.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startEpsPlatform, type EpsPlatform } from '../../helpers/eps-platform.js';
import { addPatient } from '../../helpers/eps-prescribing.js';
import { storesUnderTest } from '../../helpers/stores.js';
import { published } from './cancellation-support.js';

const shape = (p: any) => ({
  resourceType: p.resourceType,
  parameter: p.parameter.map((x: any) => ({
    name: x.name,
    parts: x.part.map((y: any) => y.name),
    issues: x.part
      .find((y: any) => y.name === 'result')
      .resource.issue.map((i: any) => [
        i.severity,
        i.code,
        i.details?.coding?.[0]?.system,
        i.details?.coding?.[0]?.code,
        i.expression?.[0],
      ]),
  })),
});

for (const kind of await storesUnderTest()) {
  describe(`EPS $verify-signature on ${kind}`, () => {
    let t: EpsPlatform;
    before(async () => {
      t = await startEpsPlatform(kind);
    });
    after(async () => t.close());

    it('a released searchset of prescriptions: valid ones informational, a changed one refused as published', async () => {
      const nhs = await addPatient(t.platform.repo);
      const a = await t.eps.prescribe({ nhsNumber: nhs });
      const b = await t.eps.prescribe({ nhsNumber: nhs });
      const changed = structuredClone(b.signed);
      changed.entry.find(
        (e: any) => e.resource.resourceType === 'MedicationRequest',
      ).resource.dispenseRequest.quantity.value = 999;
      const body = {
        resourceType: 'Bundle',
        type: 'searchset',
        entry: [a.signed, changed].map((r) => ({ resource: r })),
      };
      for (const token of [t.eps.tokens.pharmacy, t.eps.tokens.prescriber]) {
        const res = await t.eps.post('/$verify-signature', body, token);
        assert.equal(res.status, 200, JSON.stringify(res.body).slice(0, 300));
        assert.equal(res.body.resourceType, 'Parameters');
        assert.deepEqual(
          res.body.parameter[0].part[0].valueReference.identifier,
          a.signed.identifier,
          'messageIdentifier',
        );
        assert.deepEqual(
          res.body.parameter[0].part[1].resource.issue,
          [{ severity: 'information', code: 'informational' }],
          'valid',
        );
        const bad = res.body.parameter[1].part[1].resource.issue;
        assert.deepEqual(
          bad.map((i: any) => i.details.coding[0].display),
          ["Signature doesn't match prescription"],
        );
        const pub = shape(published('sandbox/VerifySignature-Response-200_OK.json')).parameter[0];
        assert.deepEqual(shape(res.body).parameter[1].parts, pub.parts, 'the published parts');
        assert.deepEqual(
          shape(res.body).parameter[1].issues[0],
          pub.issues[1],
          'the published "doesn\'t match" issue',
        );
      }
    });

    it('a tampered signature is "invalid"; not a Bundle is a 400 OperationOutcome; other roles are refused', async () => {
      const nhs = await addPatient(t.platform.repo);
      const a = await t.eps.prescribe({ nhsNumber: nhs });
      const signed = structuredClone(a.signed);
      const prov = signed.entry.find((e: any) => e.resource.resourceType === 'Provenance').resource;
      const [h, p, s] = Buffer.from(prov.signature[0].data, 'base64').toString().split('.');
      prov.signature[0].data = Buffer.from(
        `${h}.${p}.${s.slice(0, 5)}${s[5] === 'A' ? 'B' : 'A'}${s.slice(6)}`,
      ).toString('base64');
      let res = await t.eps.post('/$verify-signature', signed, t.eps.tokens.pharmacy);
      assert.equal(res.status, 200);
      assert.equal(
        res.body.parameter[0].part[1].resource.issue[0].details.coding[0].display,
        'Signature is invalid',
      );
      res = await t.eps.post(
        '/$verify-signature',
        { resourceType: 'Parameters' },
        t.eps.tokens.pharmacy,
      );
      assert.equal(res.status, 400);
      assert.equal(res.body.resourceType, 'OperationOutcome');
      res = await t.eps.post(
        '/$verify-signature',
        signed,
        await t.platform.token('R8004', { user: 'student-1', org: 'A83008' }),
      );
      assert.equal(res.status, 403, 'a student role may not');
    });
  });
}
