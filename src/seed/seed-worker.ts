/**
 * Worker thread of the bulk seeder: builds the store rows of each range of patient indexes it is
 * sent, in the order asked, so generation runs on the second core while the main thread inserts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createPatientGenerator } from './patient-generator.js';
import { buildSeedRows } from './seed-rows.js';

const generator = createPatientGenerator((workerData as { seed: number }).seed);
parentPort!.on('message', ({ from, to }: { from: number; to: number }) => {
  parentPort!.postMessage(buildSeedRows(generator, from, to));
});
