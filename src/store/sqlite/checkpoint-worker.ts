/**
 * The embedded store's WAL checkpointer thread (see background-checkpoints.ts): on its own
 * connection, copies committed WAL pages back into the database file every few milliseconds, in
 * PASSIVE mode, which never blocks the serving connection's readers or writers.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const { file, intervalMs } = workerData as { file: string; intervalMs: number };
const db = new Database(file);
db.pragma('busy_timeout = 5000');
// a checkpoint copies and fsyncs here, not on the thread answering requests
db.pragma('synchronous = NORMAL');

let timer: NodeJS.Timeout | undefined;
function checkpoint(): void {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (err) {
    // SQLITE_BUSY: another checkpointer is at work; the next turn tries again
    if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
  }
  timer = setTimeout(checkpoint, intervalMs);
}
timer = setTimeout(checkpoint, intervalMs);

parentPort!.on('message', (message: string) => {
  if (message !== 'stop') return;
  clearTimeout(timer);
  db.close();
  parentPort!.close();
});
