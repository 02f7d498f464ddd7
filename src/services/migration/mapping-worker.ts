/**
 * Worker thread of a migration into the embedded store: reads patient batches from the legacy
 * source, maps them and serialises the store rows, so the main thread only writes. Stateless: each
 * request names its slice (partition, after key, refused patients) and gets the whole batch back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import pg from 'pg';
import { bulkRowsOf } from '../../store/bulk-rows.js';
import { LegacyReader } from './legacy-read.js';
import type { MappedBatch, MappingRequest, MappingWorkerData } from './mapping-worker-client.js';
import { mapPatientBatch, nhsKeysOf, readPatientBatch } from './patient-batch.js';

const { sourceUrl, schema, runId, connections } = workerData as MappingWorkerData;
const pool = new pg.Pool({ connectionString: sourceUrl, max: connections });
const reader = new LegacyReader(pool as unknown as pg.ClientBase, schema);
const port = parentPort!;

port.on('message', async (req: MappingRequest | { close: true }) => {
  if ('close' in req) {
    await pool.end();
    port.close();
    return;
  }
  try {
    const read = await readPatientBatch(reader, req.parts, req.part, req.after, req.limit);
    const batch = mapPatientBatch(runId, read, new Map(req.refused));
    const reply: MappedBatch = {
      id: req.id,
      size: read.rows.length,
      first: read.rows[0]?.key ?? req.after,
      last: read.rows[read.rows.length - 1]?.key ?? req.after,
      count: batch.count,
      tally: batch.tally,
      audit: batch.audit,
      nhsKeys: nhsKeysOf(read.rows),
      rows: bulkRowsOf(batch.writes),
    };
    port.postMessage(reply);
  } catch (err) {
    port.postMessage({ id: req.id, error: err instanceof Error ? err.message : String(err) });
  }
});
