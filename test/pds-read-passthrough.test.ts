/**
 * The read fast path serves stored JSON untouched; these tests pin that it answers exactly what the
 * full path (parse, filter, serialise) would, and that anything needing filtering still gets it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Patient } from 'fhir/r4.js';
import { seedPatients } from '../src/seed/seed-patients.js';
import { PATIENT } from '../src/services/pds/patient-model.js';
import { patientForRead } from '../src/services/pds/patient-views.js';
import { commitPatients, PDS, SPARE_NHS } from './helpers/pds-fixtures.js';
import { startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';

for (const kind of await storesUnderTest()) {
  describe(`PDS read pass-through (${kind})`, () => {
    let platform: TestPlatform;
    let ids: string[];
    before(async () => {
      platform = await startTestPlatform(kind);
      await seedPatients(platform.repo, { patients: 60, seed: 11 });
      ids = await platform.repo.search({
        type: PATIENT,
        criteria: [{ any: [{ param: 'identifier', op: 'prefix', value: '999' }] }],
        limit: 60,
      });
    });
    after(() => platform.close());

    it('answers every seeded record exactly as the filtering path would, with the stored version as ETag', async () => {
      assert.ok(ids.length === 60, `seeded 60, found ${ids.length}`);
      for (const id of ids) {
        const res = await platform.request({ url: `${PDS}/Patient/${id}` });
        assert.equal(res.statusCode, 200, res.body.slice(0, 200));
        const stored = (await platform.repo.read(PATIENT, id))!;
        assert.deepEqual(res.json(), patientForRead(stored.resource), `body of ${id}`);
        assert.equal(res.headers.etag, `W/"${stored.version}"`);
      }
    });

    it('still strips a restricted record and still follows a merge, and a stray code "R" elsewhere changes nothing', async () => {
      const base = (await platform.repo.read(PATIENT, ids[0]))!.resource as Patient;
      const make = (id: string, extra: Partial<Patient>): Patient => ({
        ...structuredClone(base),
        id,
        identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: id }],
        meta: undefined,
        ...extra,
      });
      const restricted = make(SPARE_NHS[0], {
        meta: {
          security: [
            {
              system: 'https://www.hl7.org/fhir/valueset-security-labels.html',
              code: 'R',
              display: 'restricted',
            },
          ],
        },
      });
      const strayCode = make(SPARE_NHS[1], {
        meta: {
          security: [
            {
              system: 'https://www.hl7.org/fhir/valueset-security-labels.html',
              code: 'U',
              display: 'unrestricted',
            },
          ],
        },
        extension: [
          ...(base.extension ?? []),
          { url: 'https://example.org/some-coding', valueCoding: { code: 'R' } },
        ],
      });
      await commitPatients(platform.repo, [restricted, strayCode]);

      const r = await platform.request({ url: `${PDS}/Patient/${SPARE_NHS[0]}` });
      assert.equal(r.statusCode, 200);
      for (const hidden of ['address', 'telecom', 'contact', 'generalPractitioner'])
        assert.equal(r.json()[hidden], undefined, hidden);

      const s = await platform.request({ url: `${PDS}/Patient/${SPARE_NHS[1]}` });
      assert.equal(s.statusCode, 200);
      assert.deepEqual(s.json().address, base.address);
      assert.ok(
        s
          .json()
          .extension.some((e: { url: string }) => e.url === 'https://example.org/some-coding'),
        'the stray coding is served',
      );

      const merge = await platform.request({
        method: 'POST',
        url: `${PDS}/Patient/$merge`,
        token: await platform.token('R8013'),
        body: {
          resourceType: 'Parameters',
          parameter: [
            { name: 'source-patient-identifier', valueIdentifier: { value: ids[1] } },
            { name: 'target-patient-identifier', valueIdentifier: { value: ids[2] } },
          ],
        },
      });
      assert.equal(merge.statusCode, 200, merge.body.slice(0, 200));
      const m = await platform.request({ url: `${PDS}/Patient/${ids[1]}` });
      assert.equal(m.json().id, ids[2]);
    });
  });
}
