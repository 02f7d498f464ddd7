/**
 * What the migration makes of dirty legacy data: unmappable rows in quarantine with their reasons,
 * cleanable dirt cleaned (spaced numbers, free-text dates, latin-1 and mojibake names), merges
 * carried over, PDS read and trace working on the migrated records, and verify catching tampering.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Patient } from 'fhir/r4.js';
import pg from 'pg';
import { migrateLegacy } from '../src/services/migration/migrate-run.js';
import {
  MIGRATION_QUARANTINE,
  type QuarantinedRow,
} from '../src/services/migration/migration-state.js';
import { decodeLegacyText, parseLegacyDate } from '../src/services/migration/legacy-clean.js';
import { verifyMigration } from '../src/services/migration/verify.js';
import { indexPatient } from '../src/services/pds/patient-index.js';
import { legacySource } from './helpers/legacy-source.js';
import { PDS, startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';

const stores = await storesUnderTest();

describe('legacy field cleaning', () => {
  it('reads every free-text date format the legacy front ends allowed, and refuses impossible dates', () => {
    for (const text of ['1985-03-12', '12/03/1985', '12-MAR-1985', '12-mar-1985', '19850312'])
      assert.equal(parseLegacyDate(text), '1985-03-12', text);
    for (const text of ['UNKNOWN', '31/02/1987', '00/00/0000', '1985-13-40', '', null])
      assert.equal(parseLegacyDate(text), null, String(text));
  });
  it('decodes ISO-8859-1 bytes and repairs UTF-8 written into the latin-1 column', () => {
    assert.equal(decodeLegacyText(Buffer.from('Zoë', 'latin1')), 'Zoë');
    assert.equal(decodeLegacyText(Buffer.from('Siobhán', 'utf8')), 'Siobhán');
    assert.equal(decodeLegacyText(Buffer.from('Smith', 'latin1')), 'Smith');
  });
});

for (const kind of stores) {
  describe(`migration mapping (${kind})`, () => {
    let source: Awaited<ReturnType<typeof legacySource>>;
    let platform: TestPlatform;
    let quarantined: QuarantinedRow[];

    before(async () => {
      source = await legacySource(1500, 5);
      platform = await startTestPlatform(kind);
      await migrateLegacy(platform.repo, {
        sourceUrl: source.url,
        schema: source.schema,
        workers: 2,
        batchSize: 200,
      });
      const ids = await platform.repo.search({
        type: MIGRATION_QUARANTINE,
        criteria: [{ any: [{ param: 'run', op: 'prefix', value: '' }] }],
        limit: 100_000,
      });
      quarantined = (await platform.repo.readMany(MIGRATION_QUARANTINE, ids)).map(
        (s) => s.resource as QuarantinedRow,
      );
    });
    after(async () => {
      await platform?.close();
      await source?.drop();
    });

    it('quarantines every kind of unmappable row with its reason', () => {
      const reasons = quarantined.map((q) => q.reason);
      for (const pattern of [
        /^invalid NHS Number/,
        /^duplicate of legacy patient \d+/,
        /^unreadable date of birth/,
        /^orphaned row: legacy patient \d+ does not exist/,
        /^patient \d+ quarantined: /,
      ]) {
        assert.ok(
          reasons.some((r) => pattern.test(r)),
          `no quarantined row with reason ${pattern}`,
        );
      }
      const orphan = quarantined.find((q) => q.reason.startsWith('orphaned'))!;
      assert.ok(
        ['allergies', 'medications'].includes(orphan.table),
        `orphans come from clinical tables, got ${orphan.table}`,
      );
      assert.ok(orphan.row.key === orphan.key, 'the quarantined row keeps the legacy row as read');
    });

    it('accounts for every legacy row: migrated plus quarantined equals the source', async () => {
      const report = await verifyMigration(platform.repo, {
        sourceUrl: source.url,
        schema: source.schema,
        sample: 50,
      });
      assert.ok(
        report.ok,
        `verify should pass: ${JSON.stringify(report.tables.filter((t) => !t.ok))} ${report.sample.differences.join('; ')}`,
      );
      const total = report.tables.reduce((n, t) => n + t.targetMigrated + t.targetQuarantined, 0);
      assert.equal(
        total,
        Object.values(source.counts).reduce((a, b) => a + b, 0),
      );
    });

    it('cleans names: latin-1 and mojibake decode to the same accented text', async () => {
      const client = new pg.Client({ connectionString: source.url });
      await client.connect();
      const { rows } =
        await client.query(`SELECT p.nhs_number, n.forenames FROM ${source.schema}.patient_names n JOIN ${source.schema}.patients p USING (patient_id)
        WHERE position('\\xc3'::bytea in n.forenames) > 0 AND p.superseded_by IS NULL ORDER BY n.name_id LIMIT 20`);
      await client.end();
      let checked = 0;
      for (const row of rows) {
        const stored = await platform.repo.read(
          'Patient',
          String(row.nhs_number).replace(/\s/g, ''),
        );
        if (!stored) continue; // a quarantined patient
        const given = (stored.resource as Patient).name!.flatMap((n) => n.given ?? []).join(' ');
        assert.ok(
          // repaired: an accented Latin letter (Zoë, Níamh, José...) and no mojibake left
          /[\u00c0-\u00ff]/.test(given) && !given.includes('Ã'),
          `mojibake should be repaired, got '${given}'`,
        );
        checked++;
      }
      assert.ok(checked > 0, 'the legacy data should hold mojibake names for this test to look at');
    });

    it('indexes migrated patients exactly as PDS does, so PDS read and trace work on them', async () => {
      const ids = await platform.repo.search({
        type: 'Patient',
        criteria: [{ any: [{ param: 'identifier', op: 'prefix', value: '999' }] }],
        limit: 50,
      });
      const patients = (await platform.repo.readMany('Patient', ids)).map(
        (s) => s.resource as Patient,
      );
      const plain = patients.find(
        (p) => !p.link && p.meta?.security?.[0]?.code === 'U' && p.name?.[0]?.family,
      )!;
      assert.ok(plain, 'a plain migrated patient');
      const read = await platform.request({ url: `${PDS}/Patient/${plain.id}` });
      assert.equal(read.statusCode, 200, read.body);
      assert.equal(read.json().birthDate, plain.birthDate);
      const name = plain.name!.find((n) => n.use === 'usual')!;
      const trace = await platform.request({
        url: `${PDS}/Patient?family=${encodeURIComponent(name.family!)}&birthdate=eq${plain.birthDate}&gender=${plain.gender}`,
      });
      assert.equal(trace.statusCode, 200, trace.body);
      assert.ok(
        trace.json().entry?.some((e: { resource: Patient }) => e.resource.id === plain.id),
        'trace should find the migrated patient',
      );
    });

    it('carries legacy merges over: the superseded number reads as its survivor', async () => {
      const ids = await platform.repo.search({
        type: 'Patient',
        criteria: [{ any: [{ param: 'replaced-by', op: 'prefix', value: '9' }] }],
        limit: 5,
      });
      assert.ok(ids.length > 0, 'the legacy data should hold merged numbers');
      const superseded = (await platform.repo.read('Patient', ids[0]))!.resource as Patient;
      const survivorId = superseded.link![0].other.identifier!.value!;
      const survivor = (await platform.repo.read('Patient', survivorId))!.resource as Patient;
      assert.ok(
        survivor.link?.some((l) => l.type === 'replaces' && l.other.identifier?.value === ids[0]),
        'the survivor should list the number it replaces',
      );
      const read = await platform.request({ url: `${PDS}/Patient/${ids[0]}` });
      assert.equal(read.statusCode, 200, read.body);
      assert.equal(read.json().id, survivorId);
    });

    it('verify fails when a migrated field is changed behind its back', async () => {
      const ids = await platform.repo.search({
        type: 'Patient',
        criteria: [{ any: [{ param: 'identifier', op: 'prefix', value: '999' }] }],
        limit: 1,
      });
      const stored = (await platform.repo.read('Patient', ids[0]))!;
      const changed: Patient = { ...stored.resource, birthDate: '1901-01-01' };
      await platform.repo.commit({
        resources: [
          {
            type: 'Patient',
            id: ids[0],
            expectedVersion: stored.version,
            resource: changed,
            index: indexPatient(changed),
          },
        ],
      });
      const report = await verifyMigration(platform.repo, {
        sourceUrl: source.url,
        schema: source.schema,
        sample: 10,
      });
      assert.equal(report.ok, false, 'verify must notice the changed birth date');
      assert.equal(
        report.tables.find((t) => t.table === 'patients')!.ok,
        false,
        'the patients digest must differ',
      );
      assert.equal(
        report.tables.find((t) => t.table === 'addresses')!.ok,
        true,
        'untouched tables still match',
      );
    });
  });
}
