/**
 * `openspine sus extract` as a real child process: patients with the national data opt-out (set
 * through the SCR API, including one on a merged number's survivor) are left out and counted; the
 * rest come out pseudonymised (keyed HMAC, district, year-month) with no NHS Number anywhere.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Patient } from 'fhir/r4.js';
import { seedPatients } from '../src/seed/seed-patients.js';
import { createPatientGenerator } from '../src/seed/patient-generator.js';
import { indexPatient } from '../src/services/pds/patient-index.js';
import {
  loadOrCreatePseudonymKey,
  pseudonymFor,
  postcodeDistrict,
  yearMonth,
} from '../src/services/sus/pseudonym.js';
import { killAllChildren, runCli, storeFlags } from './helpers/child-server.js';
import { startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';

const stores = await storesUnderTest();
after(killAllChildren);
const PATIENTS = 400;
const SEED = 33;
const NHS_SYSTEM = 'https://fhir.nhs.uk/Id/nhs-number';

describe('pseudonymisation rules', () => {
  it('cuts postcodes to the district and dates to the month', () => {
    assert.equal(postcodeDistrict('LS1 6AE'), 'LS1');
    assert.equal(postcodeDistrict('SW1A 1AA'), 'SW1A');
    assert.equal(postcodeDistrict('nonsense'), null);
    assert.equal(yearMonth('1985-03-12'), '1985-03');
    assert.equal(yearMonth('2020-01-01T10:30:00+00:00'), '2020-01');
  });
});

for (const kind of stores) {
  describe(`sus extract (${kind})`, () => {
    let platform: TestPlatform;
    let outDir: string;
    const numbers = Array.from(
      { length: PATIENTS },
      (_, i) => createPatientGenerator(SEED).generate(i).patient.id!,
    );
    const optedOut = numbers.slice(10, 17);
    const merged = numbers[30],
      survivor = numbers[31];

    before(async () => {
      platform = await startTestPlatform(kind);
      outDir = mkdtempSync(join(tmpdir(), 'openspine-sus-'));
      await seedPatients(platform.repo, { patients: PATIENTS, seed: SEED });
      // a legacy-style merge: the old number's choice is its survivor's
      const stored = (await platform.repo.read('Patient', merged))!;
      const superseded: Patient = {
        ...stored.resource,
        link: [
          { type: 'replaced-by', other: { identifier: { system: NHS_SYSTEM, value: survivor } } },
        ],
      };
      await platform.repo.commit({
        resources: [
          {
            type: 'Patient',
            id: merged,
            expectedVersion: stored.version,
            resource: superseded,
            index: indexPatient(superseded),
          },
        ],
      });
      const admin = await platform.token('R8008');
      for (const nhs of [...optedOut, survivor]) {
        const res = await platform.request({
          method: 'POST',
          url: '/summary-care-record/FHIR/R4/$set-opt-out',
          token: admin,
          body: {
            resourceType: 'Parameters',
            parameter: [
              { name: 'patient', valueIdentifier: { system: NHS_SYSTEM, value: nhs } },
              { name: 'optOut', valueBoolean: true },
            ],
          },
        });
        assert.equal(res.statusCode, 201, res.body);
      }
    });
    after(async () => {
      await platform?.close();
      rmSync(outDir, { recursive: true, force: true });
    });

    it('leaves out every opted-out patient, says how many, and pseudonymises the rest', async () => {
      const file = join(outDir, `extract-${kind}.ndjson`);
      const run = await runCli([
        'sus',
        'extract',
        '--since',
        '2000-01-01',
        '--out',
        file,
        ...storeFlags(platform.config),
      ]);
      assert.equal(run.code, 0, run.stderr);
      const excluded = optedOut.length + 1; // the survivor
      assert.match(
        run.stderr,
        new RegExp(
          `${PATIENTS - excluded - 1} patients written, ${excluded} excluded \\(national data opt-out\\), 1 superseded`,
        ),
      );
      const text = readFileSync(file, 'utf8');
      const lines = text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
      assert.equal(lines.length, PATIENTS - excluded - 1);
      assert.ok(!/\b999\d{7}\b/.test(text), 'no NHS Number appears anywhere in the extract');
      const key = loadOrCreatePseudonymKey(platform.config.dataDir);
      const pseudonyms = new Set(lines.map((l) => l.pseudonym));
      for (const nhs of [...optedOut, survivor, merged])
        assert.ok(!pseudonyms.has(pseudonymFor(key, nhs)), `${nhs} must not be in the extract`);
      assert.ok(
        pseudonyms.has(pseudonymFor(key, numbers[0])),
        'a patient without an opt-out is in the extract under their keyed pseudonym',
      );
      for (const l of lines) {
        assert.match(l.birth_month, /^\d{4}-\d{2}$/);
        assert.ok(
          l.postcode_district === null || /^[A-Z]{1,2}[0-9][A-Z0-9]?$/.test(l.postcode_district),
          `district only: ${l.postcode_district}`,
        );
      }
    });

    it('writes CSV with the same people and the same stable pseudonyms', async () => {
      const file = join(outDir, `extract-${kind}.csv`);
      const run = await runCli([
        'sus',
        'extract',
        '--since',
        '2000-01-01',
        '--format',
        'csv',
        '--out',
        file,
        ...storeFlags(platform.config),
      ]);
      assert.equal(run.code, 0, run.stderr);
      const [header, ...rows] = readFileSync(file, 'utf8').trim().split('\n');
      assert.equal(
        header,
        'pseudonym,gender,birth_month,death_month,postcode_district,gp_practice,allergies,medications,prescriptions',
      );
      const ndjson = readFileSync(join(outDir, `extract-${kind}.ndjson`), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l).pseudonym)
        .sort();
      assert.deepEqual(rows.map((r) => r.split(',')[0]).sort(), ndjson);
    });

    it('a --since after every change extracts nothing; a bad --since is refused', async () => {
      const later = await runCli([
        'sus',
        'extract',
        '--since',
        new Date(Date.now() + 86_400_000).toISOString(),
        '--out',
        join(outDir, 'none.ndjson'),
        ...storeFlags(platform.config),
      ]);
      assert.equal(later.code, 0, later.stderr);
      assert.match(later.stderr, / 0 patients written/);
      const bad = await runCli([
        'sus',
        'extract',
        '--since',
        'last tuesday',
        ...storeFlags(platform.config),
      ]);
      assert.equal(bad.code, 2);
    });
  });
}
