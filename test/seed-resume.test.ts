/**
 * `openspine seed` goes the distance: killed mid-run (SIGKILL, so nothing is tidied up), the same
 * command again resumes where the store stopped and finishes with every patient of the range once,
 * an intact audit chain, and progress lines (rate, ETA) on stderr when it is not a terminal.
 * The national NHS Number block is checked here too: valid, ascending, clear of the 999 range and
 * of the published test prefixes, and as large as docs/pds.md says.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isValidNhsNumber } from '../src/fhir/nhs-number.js';
import { NationalNumberBlock } from '../src/seed/generator-nhs-numbers.js';
import { createPatientGenerator, PATIENTS_PER_BLOCK } from '../src/seed/patient-generator.js';
import { PATIENT } from '../src/services/pds/index.js';
import { openRepository } from '../src/store/open.js';
import type { Repository } from '../src/store/repository.js';
import { runCli, spawnCli, storeFlags } from './helpers/child-server.js';
import { isolatedStoreConfig, storesUnderTest } from './helpers/stores.js';

const PATIENTS = 40_000;
const SEED = 3;

describe('national NHS Number block', () => {
  it('holds 88,727,273 valid numbers in ascending order, outside 999 and the published prefixes', () => {
    assert.equal(NationalNumberBlock.size, 88_727_273);
    assert.equal(PATIENTS_PER_BLOCK.national, NationalNumberBlock.size);
    // docs/pds.md: the four-digit prefixes of published NHS England test patients
    const published = '9000 9054 9111 9446 9449 9453 9462 9691 9699 9733 9736 9876 9900 9912';
    let previous = '';
    for (let n = 0; n < NationalNumberBlock.size; n += 9_973) {
      const number = NationalNumberBlock.nth(n);
      assert.ok(isValidNhsNumber(number), `${n}: ${number}`);
      assert.ok(number > previous, `${n}: ${number} after ${previous}`);
      assert.ok(number.startsWith('9') && !number.startsWith('999'), number);
      assert.ok(!published.split(' ').includes(number.slice(0, 4)), number);
      previous = number;
    }
    assert.equal(NationalNumberBlock.nth(NationalNumberBlock.size - 1), '9989999996');
  });

  it('matches a brute-force walk of the valid numbers across a prefix boundary', () => {
    const start = NationalNumberBlock.before[NationalNumberBlock.prefixes.indexOf(9448)];
    const walked: string[] = [];
    for (let stem = 944_800_000; walked.length < 200_000; stem++) {
      if (Math.floor(stem / 100_000) === 9449) continue; // a published test prefix, left out
      let sum = 0;
      for (let i = 0, s = String(stem); i < 9; i++) sum += (s.charCodeAt(i) - 48) * (10 - i);
      const check = 11 - (sum % 11);
      if (check !== 10) walked.push(String(stem) + (check === 11 ? 0 : check));
    }
    for (let k = 0; k < walked.length; k += 7)
      assert.equal(NationalNumberBlock.nth(start + k), walked[k], `rank ${start + k}`);
  });

  it('gives the 80-millionth patient of a seed a valid, distinct number', () => {
    const g = createPatientGenerator(1, 'national');
    const a = g.generate(79_999_999).patient.id!;
    const b = g.generate(80_000_000).patient.id!;
    assert.ok(isValidNhsNumber(a) && isValidNhsNumber(b) && a !== b);
    assert.throws(() => g.generate(NationalNumberBlock.size), /out of range/);
  });
});

for (const kind of await storesUnderTest()) {
  describe(`openspine seed resumes after SIGKILL (${kind})`, () => {
    let repo: Repository;
    let cleanup: () => Promise<void>;
    let flags: string[];
    before(async () => {
      const isolated = await isolatedStoreConfig(kind);
      cleanup = isolated.cleanup;
      flags = storeFlags(isolated.config);
      repo = await openRepository(isolated.config); // migrates the store before the CLI runs
    });
    after(async () => {
      await repo.close();
      await cleanup();
    });

    it('continues where the killed run stopped, with no patient missing or twice', async () => {
      const args = ['seed', ...flags, '--patients', String(PATIENTS), '--seed', String(SEED)];
      const run = spawnCli(args);
      let exited = false;
      void run.exited.then(() => (exited = true));
      let present = 0;
      while (!exited && (present = await repo.count(PATIENT)) < 5_000)
        await new Promise((r) => setTimeout(r, 20));
      assert.ok(!exited, `the first run ended before it could be killed: ${run.stderr()}`);
      run.child.kill('SIGKILL');
      await run.exited;
      present = await repo.count(PATIENT);
      assert.ok(present >= 5_000 && present < PATIENTS, `killed part-way: ${present} present`);

      const finish = await runCli(args, 300_000);
      assert.equal(finish.code, 0, finish.stderr.slice(-1000));
      assert.match(
        finish.stdout,
        new RegExp(`seeded ${PATIENTS - present} patients \\(${present} already present\\)`),
      );
      assert.match(
        finish.stderr,
        new RegExp(`seed: resuming, ${present.toLocaleString('en-GB')} patients already present`),
      );
      assert.match(
        finish.stderr,
        /seed: 40,000 of 40,000 patients \(100\.0%\), [\d,]+ patients\/s, \S+ elapsed, done/,
      );

      assert.equal(await repo.count(PATIENT), PATIENTS);
      const g = createPatientGenerator(SEED);
      const ids = Array.from({ length: PATIENTS }, (_, i) => g.generate(i).patient.id!);
      const stored = await repo.readMany(PATIENT, ids);
      assert.equal(stored.length, PATIENTS, 'every patient of the range is there');
      assert.ok(
        stored.every((s) => s.version === 1),
        'none was written twice',
      );
      const verify = await runCli(['audit', 'verify', ...flags]);
      assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    });
  });
}
