/**
 * Worker thread of the bulk seeder: builds the store rows of each range of patient indexes it is
 * sent, in the order asked, so generation runs on the second core while the main thread inserts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createPatientGenerator, type NumberBlockName } from './patient-generator.js';
import { buildSeedRows } from './seed-rows.js';

const { seed, numbers } = workerData as { seed: number; numbers: NumberBlockName };
const generator = createPatientGenerator(seed, numbers);
parentPort!.on('message', ({ from, to }: { from: number; to: number }) => {
  parentPort!.postMessage(buildSeedRows(generator, from, to));
});
