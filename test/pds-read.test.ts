/**
 * PDS retrieval: GET /Patient/{id}, restricted records, supersession, _history, RelatedPerson, and
 * the audit trail every touch of a record leaves.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { RelatedPerson } from 'fhir/r4.js';
import { ChainVerifier } from '../src/audit/chain.js';
import { seedPatients } from '../src/seed/seed-patients.js';
import type { AuditEntry } from '../src/audit/types.js';
import { startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';
import {
  asPublished,
  assertOutcome,
  commitPatients,
  commitRelatedPerson,
  current,
  currentJane,
  fixture,
  isRestrictedRecord,
  mergeBody,
  NHS,
  PDS,
  PHARMACY_URLS,
  readPatient,
  restrictedJanet,
  seededPatients,
} from './helpers/pds-fixtures.js';

const SEEDED = 40;

/** A resource without the store-managed meta fields, for comparing with what was committed. */
function withoutStoreMeta(p: any): any {
  const { meta, ...rest } = structuredClone(p);
  const { versionId: _v, lastUpdated: _l, ...keep } = meta ?? {};
  return { ...rest, meta: keep };
}

for (const kind of await storesUnderTest()) {
  describe(`PDS read (${kind})`, () => {
    let platform: TestPlatform;
    const generated = seededPatients(SEEDED);
    const unrestricted = generated.filter((g) => !isRestrictedRecord(g.patient));
    const withRelated = unrestricted.find((g) => g.relatedPersons.length > 0)!;
    const jane = currentJane();
    const janet = restrictedJanet();
    const guardian: RelatedPerson = {
      ...fixture<RelatedPerson>('RelatedPerson.json'),
      id: 'RP-JANE-1',
    };
    const janetContact: RelatedPerson = {
      ...fixture<RelatedPerson>('RelatedPerson.json'),
      id: 'RP-JANET-1',
    };

    before(async () => {
      platform = await startTestPlatform(kind);
      await seedPatients(platform.repo, { patients: SEEDED, seed: 7 });
      await commitPatients(platform.repo, [
        jane,
        current(fixture('Patient-Jayne-Smyth.json')),
        janet,
        fixture('Minimal_Patient.json'),
      ]);
      await commitRelatedPerson(platform.repo, guardian, NHS.jane);
      await commitRelatedPerson(platform.repo, janetContact, NHS.restricted);
    });
    after(async () => {
      await platform?.close();
    });

    describe('GET /Patient/{id}', () => {
      it('returns the record with ETag W/"n" equal to meta.versionId, as FHIR JSON', async () => {
        const { res, patient, version } = await readPatient(platform, NHS.jane);
        assert.match(String(res.headers['content-type']), /^application\/fhir\+json/);
        assert.equal(res.headers.etag, `W/"${patient.meta.versionId}"`);
        assert.equal(version, 1);
        assert.equal(patient.resourceType, 'Patient');
        assert.equal(patient.id, NHS.jane);
        assert.deepEqual(withoutStoreMeta(patient), withoutStoreMeta(asPublished(jane)));
      });

      it('reads the minimal record', async () => {
        const { patient } = await readPatient(platform, NHS.minimal);
        assert.equal(patient.id, NHS.minimal);
        assert.equal(patient.identifier[0].value, NHS.minimal);
        assert.equal(patient.name, undefined);
      });

      it('an invalid NHS Number is 400 INVALID_RESOURCE_ID', async () => {
        for (const id of [
          NHS.invalid,
          'abc',
          '90000000090',
          '900000000',
          '9000000019',
          '900000000a',
        ]) {
          assertOutcome(
            await platform.request({ url: `${PDS}/Patient/${id}` }),
            400,
            'INVALID_RESOURCE_ID',
          );
        }
      });

      it('an unknown NHS Number is 404 RESOURCE_NOT_FOUND', async () => {
        assertOutcome(
          await platform.request({ url: `${PDS}/Patient/${NHS.notFound}` }),
          404,
          'RESOURCE_NOT_FOUND',
        );
      });

      it('a restricted record withholds address, telecom, contact, GP and pharmacies', async () => {
        const stored = await platform.repo.read('Patient', NHS.restricted);
        assert.ok(
          stored!.resource.address?.length &&
            stored!.resource.telecom?.length &&
            stored!.resource.contact?.length &&
            stored!.resource.generalPractitioner?.length,
          'the stored record holds the data a read must withhold',
        );
        const { patient } = await readPatient(platform, NHS.restricted);
        assert.equal(patient.meta.security[0].code, 'R');
        for (const hidden of ['address', 'telecom', 'contact', 'generalPractitioner'])
          assert.equal(patient[hidden], undefined, hidden);
        const urls = (patient.extension ?? []).map((e: { url: string }) => e.url);
        for (const url of PHARMACY_URLS) assert.ok(!urls.includes(url), url);
        // what remains is exactly the published sensitive record
        assert.deepEqual(
          withoutStoreMeta(patient),
          withoutStoreMeta(asPublished(current(fixture('Sensitive_Patient.json')))),
        );
      });
    });

    describe('GET /Patient/{id}/_history', () => {
      it('lists every version, newest first', async () => {
        const target = unrestricted[0].patient;
        let { version, patient } = await readPatient(platform, target.id!);
        const genders = [patient.gender];
        for (const gender of ['other', 'unknown']) {
          const res = await platform.request({
            method: 'PATCH',
            url: `${PDS}/Patient/${target.id}`,
            headers: { 'if-match': `W/"${version}"` },
            contentType: 'application/json-patch+json',
            body: { patches: [{ op: 'replace', path: '/gender', value: gender }] },
          });
          assert.equal(res.statusCode, 200, res.body);
          version++;
          genders.push(gender);
        }
        const res = await platform.request({ url: `${PDS}/Patient/${target.id}/_history` });
        assert.equal(res.statusCode, 200);
        const bundle = res.json();
        assert.equal(bundle.resourceType, 'Bundle');
        assert.equal(bundle.type, 'history');
        assert.equal(bundle.total, 3);
        assert.deepEqual(
          bundle.entry.map((e: any) => e.resource.meta.versionId),
          ['3', '2', '1'],
        );
        assert.deepEqual(
          bundle.entry.map((e: any) => e.resource.gender),
          [...genders].reverse(),
        );
        assert.ok(
          bundle.entry.every((e: any) => e.resource.id === target.id),
          'bundle.entry.every((e: any) => e.resource.id === target.id)',
        );
      });

      it('a restricted record hides location data in every version', async () => {
        const res = await platform.request({ url: `${PDS}/Patient/${NHS.restricted}/_history` });
        assert.equal(res.statusCode, 200);
        const bundle = res.json();
        assert.equal(bundle.total, 1);
        assert.equal(bundle.entry[0].resource.address, undefined);
        assert.equal(bundle.entry[0].resource.telecom, undefined);
      });

      it('history of an invalid or unknown number is refused', async () => {
        assertOutcome(
          await platform.request({ url: `${PDS}/Patient/${NHS.invalid}/_history` }),
          400,
          'INVALID_RESOURCE_ID',
        );
        assertOutcome(
          await platform.request({ url: `${PDS}/Patient/${NHS.notFound}/_history` }),
          404,
          'RESOURCE_NOT_FOUND',
        );
      });
    });

    describe('GET /Patient/{id}/RelatedPerson', () => {
      it('returns the related people of a patient', async () => {
        const res = await platform.request({ url: `${PDS}/Patient/${NHS.jane}/RelatedPerson` });
        assert.equal(res.statusCode, 200);
        const bundle = res.json();
        assert.equal(bundle.resourceType, 'Bundle');
        assert.equal(bundle.total, 1);
        assert.equal(bundle.entry[0].resource.resourceType, 'RelatedPerson');
        assert.equal(bundle.entry[0].resource.id, guardian.id);
      });

      it('returns exactly the seeded related people of a synthetic patient', async () => {
        const res = await platform.request({
          url: `${PDS}/Patient/${withRelated.patient.id}/RelatedPerson`,
        });
        assert.equal(res.statusCode, 200);
        const ids = res
          .json()
          .entry.map((e: any) => e.resource.id)
          .sort();
        assert.deepEqual(ids, withRelated.relatedPersons.map((r) => r.id).sort());
      });

      it('is an empty bundle for a restricted patient, though related people are stored', async () => {
        const res = await platform.request({
          url: `${PDS}/Patient/${NHS.restricted}/RelatedPerson`,
        });
        assert.equal(res.statusCode, 200);
        const bundle = res.json();
        assert.equal(bundle.resourceType, 'Bundle');
        assert.equal(bundle.total, 0);
        // no entry element at all, as published (karate getPatientRelatedPerson.feature "Patient
        // doesn't have a related person")
        assert.equal(bundle.entry, undefined);
        assert.ok(
          await platform.repo.read('RelatedPerson', janetContact.id!),
          "await platform.repo.read('RelatedPerson', janetContact.id!)",
        );
      });

      it('an invalid or unknown number is refused', async () => {
        assertOutcome(
          await platform.request({ url: `${PDS}/Patient/abc/RelatedPerson` }),
          400,
          'INVALID_RESOURCE_ID',
        );
        assertOutcome(
          await platform.request({ url: `${PDS}/Patient/${NHS.notFound}/RelatedPerson` }),
          404,
          'RESOURCE_NOT_FOUND',
        );
      });
    });

    describe('superseded numbers', () => {
      it('after a $merge the source number reads as the survivor', async () => {
        const source = unrestricted[1].patient,
          target = unrestricted[2].patient;
        const merge = await platform.request({
          method: 'POST',
          url: `${PDS}/Patient/$merge`,
          token: await platform.token('R8013'),
          body: mergeBody(source.id!, target.id!),
        });
        assert.equal(merge.statusCode, 200, merge.body);
        assert.equal(merge.json().id, target.id);

        const { patient, res } = await readPatient(platform, source.id!);
        assert.equal(patient.id, target.id);
        assert.equal(patient.identifier[0].value, target.id);
        assert.deepEqual(patient.name, target.name);
        assert.equal(res.headers.etag, `W/"${patient.meta.versionId}"`);
        // the survivor itself reads normally
        assert.equal((await readPatient(platform, target.id!)).patient.id, target.id);
      });
    });

    describe('audit', () => {
      const entriesAfter = async (seq: number): Promise<AuditEntry[]> =>
        platform.repo.audit.readAudit(seq, 1e6);
      const headSeq = async (): Promise<number> => {
        const all = await platform.repo.audit.readAudit(0, 1e6);
        return all.length ? all[all.length - 1].seq : 0;
      };

      it('a read leaves a pds.read entry naming the patient, user and request', async () => {
        const from = await headSeq();
        const requestId = randomUUID();
        const token = await platform.token('R8000', { user: 'auditor-test-user', org: 'Y99999' });
        const nhs = unrestricted[3].patient.id!;
        const res = await platform.request({
          url: `${PDS}/Patient/${nhs}`,
          token,
          headers: { 'x-request-id': requestId },
        });
        assert.equal(res.statusCode, 200);
        const entries = await entriesAfter(from);
        const mine = entries.filter((e) => e.record.requestId === requestId);
        assert.equal(mine.length, 1);
        assert.equal(mine[0].record.action, 'pds.read');
        assert.equal(mine[0].record.patient, nhs);
        assert.equal(mine[0].record.userId, 'auditor-test-user');
        assert.equal(mine[0].record.role, 'R8000');
        assert.equal(mine[0].record.org, 'Y99999');
        assert.equal(mine[0].record.outcome, 'success');
      });

      it('a search audits one entry per returned patient', async () => {
        const from = await headSeq();
        const requestId = randomUUID();
        const res = await platform.request({
          url: `${PDS}/Patient?family=Sm*&birthdate=eq2010-10-22`,
          headers: { 'x-request-id': requestId },
        });
        assert.equal(res.statusCode, 200);
        const returned = res
          .json()
          .entry.map((e: any) => e.resource.id)
          .sort();
        assert.deepEqual(returned, [NHS.jane, NHS.jayne, NHS.restricted]);
        const mine = (await entriesAfter(from)).filter((e) => e.record.requestId === requestId);
        const perPatient = mine.filter((e) => e.record.action === 'pds.search.match');
        assert.deepEqual(perPatient.map((e) => e.record.patient).sort(), returned);
        assert.ok(
          mine.some((e) => e.record.action === 'pds.search'),
          "mine.some((e) => e.record.action === 'pds.search')",
        );
      });

      it('a search with no match audits the search but no patient', async () => {
        const from = await headSeq();
        const requestId = randomUUID();
        const res = await platform.request({
          url: `${PDS}/Patient?family=Nobodyhere&birthdate=eq2010-10-22`,
          headers: { 'x-request-id': requestId },
        });
        assert.equal(res.statusCode, 200);
        assert.equal(res.json().total, 0);
        const mine = (await entriesAfter(from)).filter((e) => e.record.requestId === requestId);
        assert.deepEqual(
          mine.map((e) => [e.record.action, e.record.patient]),
          [['pds.search', null]],
        );
      });

      it('a refused (403) request is audited', async () => {
        const from = await headSeq();
        const requestId = randomUUID();
        const token = await platform.token('R9999', { user: 'intruder' });
        assertOutcome(
          await platform.request({
            url: `${PDS}/Patient/${NHS.jane}`,
            token,
            headers: { 'x-request-id': requestId },
          }),
          403,
          'ACCESS_DENIED',
        );
        const mine = (await entriesAfter(from)).filter((e) => e.record.requestId === requestId);
        assert.equal(mine.length, 1);
        assert.equal(mine[0].record.userId, 'intruder');
        assert.equal(mine[0].record.role, 'R9999');
        assert.equal(mine[0].record.patient, NHS.jane);
        assert.equal(mine[0].record.action, 'pds.read');
        assert.match(mine[0].record.outcome, /403/);
      });

      it('a read of a superseded number audits the survivor and the number asked for', async () => {
        const source = unrestricted[1].patient,
          target = unrestricted[2].patient;
        const from = await headSeq();
        const requestId = randomUUID();
        await platform.request({
          url: `${PDS}/Patient/${source.id}`,
          headers: { 'x-request-id': requestId },
        });
        const mine = (await entriesAfter(from)).filter((e) => e.record.requestId === requestId);
        assert.equal(mine.length, 1);
        assert.equal(mine[0].record.patient, target.id);
        assert.deepEqual(mine[0].record.detail, { requested: source.id, supersededBy: target.id });
      });

      it('the audit chain verifies', async () => {
        const entries = await platform.repo.audit.readAudit(0, 1e6);
        assert.ok(entries.length > 10, 'entries.length > 10');
        const verifier = new ChainVerifier();
        for (const e of entries) assert.ok(verifier.push(e), `chain broken at ${e.seq}`);
        const result = verifier.finish();
        assert.equal(result.ok, true);
        assert.equal(result.checked, entries.length);
        assert.equal(result.headHash, entries[entries.length - 1].hash);
      });
    });
  });
}
