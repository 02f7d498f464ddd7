/**
 * FHIR Bulk Data: an export (kick-off, poll, download) imported into an empty platform gives back
 * identical resources; a re-sent import finishes an interrupted one without writing twice; an
 * interrupted export job resumes without repeating a line; roles, owners, _type, _since and Group
 * are honoured; every export and import is audited.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { seedPatients } from '../src/seed/seed-patients.js';
import {
  EXPORT_JOB,
  exportStep,
  newExportJob,
  runExport,
  type ExportJob,
} from '../src/services/bulk/export-job.js';
import { EXPORTABLE_TYPES } from '../src/services/bulk/export-enumerate.js';
import { startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';

const BULK = '/bulk/FHIR/R4';
const stores = await storesUnderTest();
const PATIENTS = 2300; // more than two leaves of the index walk

/** Export through the API and return the manifest and every file's lines, by type. */
async function exportAll(
  platform: TestPlatform,
  token: string,
  path = '/$export',
): Promise<{ manifest: any; files: Record<string, string[]> }> {
  const kick = await platform.request({
    url: BULK + path,
    token,
    headers: { prefer: 'respond-async', accept: 'application/fhir+json' },
  });
  assert.equal(kick.statusCode, 202, kick.body);
  const poll = new URL(kick.headers['content-location'] as string).pathname;
  let res;
  for (let i = 0; i < 2000; i++) {
    res = await platform.request({ url: poll, token });
    if (res.statusCode !== 202) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(res!.statusCode, 200, res!.body);
  const manifest = res!.json();
  const files: Record<string, string[]> = {};
  for (const out of manifest.output) {
    const file = await platform.request({ url: new URL(out.url).pathname, token });
    assert.equal(file.statusCode, 200, file.body);
    assert.match(String(file.headers['content-type']), /application\/fhir\+ndjson/);
    files[out.type] = file.body.split('\n').filter(Boolean);
    assert.equal(
      files[out.type].length,
      out.count,
      `${out.type}: the manifest count matches the file`,
    );
  }
  return { manifest, files };
}

const withoutStoreMeta = (r: any) => {
  const { versionId: _v, lastUpdated: _l, ...meta } = r.meta ?? {};
  return { ...r, meta };
};

async function importLines(platform: TestPlatform, token: string, lines: string[]) {
  return platform.request({
    method: 'POST',
    url: `${BULK}/$import`,
    token,
    body: lines.join('\n') + '\n',
    contentType: 'application/fhir+ndjson',
  });
}

for (const kind of stores) {
  describe(`bulk export and import (${kind})`, () => {
    let source: TestPlatform, copy: TestPlatform;
    let token: string;
    let exported: Awaited<ReturnType<typeof exportAll>>;

    before(async () => {
      source = await startTestPlatform(kind);
      copy = await startTestPlatform(kind);
      await seedPatients(source.repo, { patients: PATIENTS, seed: 21, batchSize: 1000 });
      token = await source.token('R8015', { user: 'bulk-operator' });
      exported = await exportAll(source, token);
    });
    after(async () => {
      await source?.close();
      await copy?.close();
    });

    it('exports every Patient and RelatedPerson exactly once', async () => {
      const ids = exported.files.Patient.map((l) => JSON.parse(l).id);
      assert.equal(ids.length, PATIENTS);
      assert.equal(new Set(ids).size, PATIENTS, 'no patient appears twice');
      assert.equal(exported.files.RelatedPerson.length, await source.repo.count('RelatedPerson'));
      assert.equal(exported.manifest.requiresAccessToken, true);
    });

    it('export then import into an empty store round-trips to identical resources', async () => {
      const copyToken = await copy.token('R8015', { user: 'bulk-operator' });
      for (const type of Object.keys(exported.files)) {
        const res = await importLines(copy, copyToken, exported.files[type]);
        assert.equal(res.statusCode, 200, res.body);
        assert.match(
          res.json().issue[0].diagnostics,
          new RegExp(`${exported.files[type].length} created`),
        );
      }
      for (const type of Object.keys(exported.files)) {
        const original = exported.files[type].map((l) => JSON.parse(l));
        const stored = await copy.repo.readMany(
          type,
          original.map((r) => r.id),
        );
        assert.equal(stored.length, original.length, `${type}: every resource imported`);
        const byId = new Map(stored.map((s) => [s.id, s.resource]));
        for (const r of original)
          assert.deepEqual(
            withoutStoreMeta(byId.get(r.id)),
            withoutStoreMeta(r),
            `${type}/${r.id} identical after the round trip`,
          );
      }
      const again = await exportAll(copy, copyToken);
      for (const type of Object.keys(exported.files)) {
        assert.deepEqual(
          again.files[type]
            .map((l) => withoutStoreMeta(JSON.parse(l)))
            .sort((a, b) => a.id.localeCompare(b.id)),
          exported.files[type]
            .map((l) => withoutStoreMeta(JSON.parse(l)))
            .sort((a, b) => a.id.localeCompare(b.id)),
          `${type}: second export equals the first`,
        );
      }
    });

    it('a re-sent import completes an interrupted one without writing anything twice', async () => {
      const fresh = await startTestPlatform(kind);
      try {
        const t = await fresh.token('R8015');
        const lines = exported.files.Patient.slice(0, 700);
        assert.equal((await importLines(fresh, t, lines.slice(0, 300))).statusCode, 200);
        const res = await importLines(fresh, t, lines);
        assert.match(res.json().issue[0].diagnostics, /400 created, 0 updated, 300 unchanged/);
        const versions = await fresh.repo.readMany(
          'Patient',
          lines.map((l) => JSON.parse(l).id),
        );
        assert.ok(
          versions.every((s) => s.version === 1),
          'nothing was written twice',
        );
      } finally {
        await fresh.close();
      }
    });

    it('an interrupted export job resumes without repeating or losing a line', async () => {
      const owner = { userId: 'u', role: 'R8015', org: 'X26', requestId: crypto.randomUUID() };
      const job = newExportJob(crypto.randomUUID(), owner, {
        level: 'system',
        types: ['Patient'],
        request: 'test',
      });
      await source.repo.commit({
        resources: [{ type: EXPORT_JOB, id: job.id, expectedVersion: 0, resource: job, index: [] }],
      });
      for (let i = 0; i < 4; i++) await exportStep(source.repo, job.id); // then the node "dies"
      await runExport(source.repo, job.id); // another node picks it up
      const done = (await source.repo.read(EXPORT_JOB, job.id))!.resource as ExportJob;
      assert.equal(done.status, 'complete');
      assert.equal(done.output.Patient.count, PATIENTS);
    });

    it('honours _type, _since and Group (a GP practice)', async () => {
      const onlyPatients = await exportAll(source, token, '/$export?_type=Patient');
      assert.deepEqual(Object.keys(onlyPatients.files), ['Patient']);
      const future = await exportAll(
        source,
        token,
        `/$export?_since=${encodeURIComponent(new Date(Date.now() + 86_400_000).toISOString())}`,
      );
      assert.equal(future.manifest.output.length, 0, 'nothing changed since tomorrow');
      const sample = JSON.parse(
        exported.files.Patient.find((l) => l.includes('generalPractitioner'))!,
      );
      const ods = sample.generalPractitioner[0].identifier.value;
      const group = await exportAll(source, token, `/Group/${ods}/$export?_type=Patient`);
      const expected = exported.files.Patient.map((l) => JSON.parse(l)).filter(
        (p) => p.generalPractitioner?.[0]?.identifier?.value === ods,
      );
      assert.deepEqual(
        group.files.Patient.map((l) => JSON.parse(l).id).sort(),
        expected.map((p) => p.id).sort(),
      );
      const patientLevel = await exportAll(source, token, '/Patient/$export?_type=Patient');
      assert.equal(patientLevel.files.Patient.length, PATIENTS);
    });

    it('refuses bad parameters with 4xx OperationOutcomes', async () => {
      const badType = await source.request({ url: `${BULK}/$export?_type=Observation`, token });
      assert.equal(badType.statusCode, 400);
      assert.equal(badType.json().issue[0].details.coding[0].code, 'INVALID_SEARCH_DATA');
      const badSince = await source.request({ url: `${BULK}/$export?_since=yesterday`, token });
      assert.equal(badSince.statusCode, 400);
      const garbage = await importLines(copy, await copy.token('R8015'), [
        '{not json',
        '{"resourceType":"Observation","id":"x"}',
      ]);
      assert.equal(garbage.statusCode, 400, garbage.body);
      const mixed = await importLines(copy, await copy.token('R8015'), [
        exported.files.Patient[0],
        '{"resourceType":"Patient","id":"1234567890"}',
      ]);
      assert.equal(mixed.statusCode, 200);
      assert.ok(
        mixed
          .json()
          .issue.some((i: any) =>
            /line 2: Patient id '1234567890' is not a valid NHS Number/.test(i.diagnostics),
          ),
        mixed.body,
      );
      const wrongType = await source.request({
        method: 'POST',
        url: `${BULK}/$import`,
        token,
        body: { resourceType: 'Patient' },
      });
      assert.equal(wrongType.statusCode, 415);
    });

    it('is authorised by role and by owner', async () => {
      const clinician = await source.token('R8000');
      assert.equal(
        (await source.request({ url: `${BULK}/$export`, token: clinician })).statusCode,
        403,
      );
      assert.equal(
        (await importLines(source, clinician, exported.files.Patient.slice(0, 1))).statusCode,
        403,
      );
      const kick = await source.request({ url: `${BULK}/$export?_type=Patient`, token });
      const poll = new URL(kick.headers['content-location'] as string).pathname;
      const stranger = await source.token('R8015', { user: 'someone-else' });
      assert.equal(
        (await source.request({ url: poll, token: stranger })).statusCode,
        404,
        'another operator cannot see the job',
      );
      assert.equal((await source.request({ method: 'DELETE', url: poll, token })).statusCode, 202);
    });

    it('audits exports per patient and imports per resource', async () => {
      const entries = await source.repo.audit.readAudit(0, 1_000_000);
      const exports = entries.filter((e) => e.record.action === 'bulk.export');
      assert.ok(
        exports.some((e) => e.record.outcome === 'accepted' && e.record.userId === 'bulk-operator'),
        'kick-off audited',
      );
      assert.ok(
        exports.some((e) => e.record.outcome === 'downloaded'),
        'downloads audited',
      );
      const perPatient = new Set(
        exports.filter((e) => e.record.patient).map((e) => e.record.patient),
      );
      assert.ok(
        perPatient.size >= PATIENTS,
        `every exported patient has an entry (${perPatient.size})`,
      );
      const imports = (await copy.repo.audit.readAudit(0, 1_000_000)).filter(
        (e) => e.record.action === 'bulk.import',
      );
      assert.ok(
        imports.filter((e) => e.record.patient).length >= PATIENTS,
        'each imported resource audited against its patient',
      );
      assert.ok(EXPORTABLE_TYPES.includes('Patient'));
    });
  });
}
