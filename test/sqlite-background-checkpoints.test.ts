import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  AUTOCHECKPOINT_PAGES,
  BackgroundCheckpoints,
} from '../src/store/sqlite/background-checkpoints.js';

function walStore() {
  const dir = mkdtempSync(join(tmpdir(), 'openspine-ckpt-'));
  const file = join(dir, 'store.db');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
  return { file, db, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

async function until(check: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return check();
}

describe('WAL checkpoints on a thread of their own', () => {
  test('the serving connection stops checkpointing, and the thread copies its commits into the database file', async () => {
    const { file, db, cleanup } = walStore();
    const checkpoints = new BackgroundCheckpoints(file, db, () => {});
    try {
      assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), 0);
      const before = statSync(file).size;
      const insert = db.prepare('INSERT INTO t (body) VALUES (?)');
      // ~2,000 pages: below the connection's own threshold, so only the thread can have copied them
      for (let i = 0; i < 400; i++)
        db.transaction(() => {
          for (let j = 0; j < 20; j++) insert.run('x'.repeat(900));
        })();
      assert.ok(
        await until(() => statSync(file).size > before + 4_000_000),
        `database file stayed at ${statSync(file).size} bytes`,
      );
      assert.equal((db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n, 8000);
    } finally {
      await checkpoints.stop();
      db.close();
      cleanup();
    }
  });

  test('when the thread is lost, the connection checkpoints itself again; stop() hands checkpoints back too', async () => {
    const { file, db, cleanup } = walStore();
    const lines: string[] = [];
    const checkpoints = new BackgroundCheckpoints(file, db, (line) => lines.push(line));
    try {
      await checkpoints.worker.terminate();
      assert.ok(
        await until(
          () => db.pragma('wal_autocheckpoint', { simple: true }) === AUTOCHECKPOINT_PAGES,
        ),
      );
      assert.match(lines.join('\n'), /checkpointer thread stopped/);
      await checkpoints.stop(); // harmless after the loss
      const again = new BackgroundCheckpoints(file, db, () => {});
      assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), 0);
      await again.stop();
      assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), AUTOCHECKPOINT_PAGES);
    } finally {
      db.close();
      cleanup();
    }
  });
});
