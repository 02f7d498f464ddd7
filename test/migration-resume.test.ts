/**
 * A real `openspine migrate` child process SIGKILLed three times at random points of its run, then
 * run to the end: `openspine migrate verify` must pass (every legacy row migrated or quarantined
 * exactly once, every field identical) and the audit chain must still verify.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openRepository } from '../src/store/open.js';
import type { Repository } from '../src/store/repository.js';
import { MIGRATION_CHECKPOINT } from '../src/services/migration/migration-state.js';
import {
  killAllChildren,
  runCli,
  spawnCli,
  storeFlags,
  type StoreTarget,
} from './helpers/child-server.js';
import { legacySource } from './helpers/legacy-source.js';
import { isolatedStoreConfig, storesUnderTest } from './helpers/stores.js';

const stores = await storesUnderTest();
after(killAllChildren);

/** Batches committed so far (each committed batch adds one checkpoint). */
const batchesCommitted = (repo: Repository): Promise<number> => repo.count(MIGRATION_CHECKPOINT);

for (const kind of stores) {
  describe(`migrate killed and resumed (${kind})`, () => {
    let source: Awaited<ReturnType<typeof legacySource>>;
    let target: StoreTarget;
    let cleanup: () => Promise<void>;
    let observer: Repository;

    before(async () => {
      source = await legacySource(1200, 11);
      const iso = await isolatedStoreConfig(kind);
      target = iso.config;
      cleanup = iso.cleanup;
      observer = await openRepository(target);
    });
    after(async () => {
      await observer?.close();
      await cleanup?.();
      await source?.drop();
    });

    it('survives three SIGKILLs at random points and verifies clean', async () => {
      const args = [
        'migrate',
        '--from',
        source.url,
        '--legacy-schema',
        source.schema,
        ...storeFlags(target),
        '--workers',
        '3',
        '--batch-size',
        '25',
        '--no-progress',
      ];
      let killedMidRun = 0;
      for (let kill = 0; kill < 3; kill++) {
        const before = await batchesCommitted(observer);
        const wait = 1 + Math.floor(Math.random() * 12); // kill after a random number of further batches
        const run = spawnCli(args);
        let exited = false;
        void run.exited.then(() => {
          exited = true;
        });
        while (!exited && (await batchesCommitted(observer)) < before + wait)
          await new Promise((r) => setTimeout(r, 5));
        if (!exited) {
          // a few random milliseconds more, so the kill lands anywhere in a batch, not just after one
          await new Promise((r) => setTimeout(r, Math.random() * 30));
          run.child.kill('SIGKILL');
          killedMidRun++;
        }
        const exit = await run.exited;
        assert.ok(
          exit.signal === 'SIGKILL' || exit.code === 0,
          `run ${kill} ended with ${JSON.stringify(exit)}: ${run.stderr().slice(-500)}`,
        );
      }
      assert.equal(
        killedMidRun,
        3,
        'every one of the three kills should land while the migration was still running',
      );
      const finish = await runCli(args, 180_000);
      assert.equal(finish.code, 0, `final run failed: ${finish.stderr.slice(-1000)}`);
      const resumed = Number(/; (\d+) done by an earlier run/.exec(finish.stdout)?.[1] ?? NaN);
      assert.ok(resumed > 0, `the final run should resume from earlier work: ${finish.stdout}`);

      const verify = await runCli(
        [
          'migrate',
          'verify',
          '--from',
          source.url,
          '--legacy-schema',
          source.schema,
          ...storeFlags(target),
          '--sample',
          '100',
        ],
        180_000,
      );
      assert.equal(verify.code, 0, `verify failed:\n${verify.stdout}\n${verify.stderr}`);
      assert.match(verify.stdout, /PASS: target matches the legacy source/);
      const audit = await runCli(['audit', 'verify', ...storeFlags(target)]);
      assert.equal(
        audit.code,
        0,
        `audit chain should verify after the kills: ${audit.stdout}${audit.stderr}`,
      );
    });

    it('a second run after completion changes nothing', async () => {
      const count = await observer.count('Patient');
      const again = await runCli(
        [
          'migrate',
          '--from',
          source.url,
          '--legacy-schema',
          source.schema,
          ...storeFlags(target),
          '--no-progress',
        ],
        60_000,
      );
      assert.equal(again.code, 0, again.stderr);
      assert.equal(await observer.count('Patient'), count, 'a completed run must not write again');
    });
  });
}
