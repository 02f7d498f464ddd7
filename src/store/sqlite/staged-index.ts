import type Database from 'better-sqlite3';

/**
 * Building the search index of a bulk seed once, sorted, at its end (SqliteBulkLoader with
 * stageIndex). Random index inserts batch by batch rewrite nearly every page of a B-tree larger
 * than memory for every batch; one sorted pass fills each page once.
 *
 * While a seed loads, search_index_pending holds the first resources rowid it wrote, in the same
 * transaction as its first batch, and the loader keeps each batch's index rows in a temporary table
 * of its own connection, so they never take space in the store. At the end they go into
 * search_index in key order. If the loader never gets there (the process stopped), the next open of
 * the store rebuilds the rows from the resources written since the mark (resources.index_rows holds
 * each resource's current rows): slower, but nothing staged has to survive. One mark, one loader:
 * a second loader running meanwhile writes its index rows directly (SqliteBulkLoader.stagingMark).
 *
 * An update committed while the mark is set writes its own current rows and marks the resource
 * superseded, so its staged rows, which describe version 1, are dropped rather than put back.
 */
export const STAGED_INDEX_TABLES = `
  CREATE TABLE search_index_pending (
    id INTEGER PRIMARY KEY CHECK (id = 1), from_rowid INTEGER NOT NULL);
  CREATE TABLE search_index_superseded (
    rtype TEXT NOT NULL, rid TEXT NOT NULL, PRIMARY KEY (rtype, rid)) WITHOUT ROWID;`;

/** The loader connection's own table of staged rows (temp: gone when the connection closes). */
export const STAGED_TABLE = 'temp.search_index_staged';
export const CREATE_STAGED_TABLE = `CREATE TEMP TABLE IF NOT EXISTS search_index_staged (
  rtype TEXT NOT NULL, param TEXT NOT NULL, value TEXT NOT NULL, rid TEXT NOT NULL)`;

/** Marks a resource updated while a seed's index is pending (one probe when none is). */
export const MARK_SUPERSEDED_SQL = `INSERT OR IGNORE INTO search_index_superseded (rtype, rid)
  SELECT ?, ? WHERE EXISTS (SELECT 1 FROM search_index_pending)`;

/**
 * Sets the pending mark unless one is set, inside the caller's transaction and before it writes
 * any resource. Returns the mark, and whether this call set it.
 */
export function markPending(db: Database.Database): { fromRowid: number; set: boolean } {
  const set =
    db
      .prepare(
        `INSERT OR IGNORE INTO search_index_pending (id, from_rowid)
         SELECT 1, coalesce(max(rowid), 0) + 1 FROM resources`,
      )
      .run().changes === 1;
  return { fromRowid: pendingFrom(db)!, set };
}

function pendingFrom(db: Database.Database): number | undefined {
  const row = db.prepare('SELECT from_rowid FROM search_index_pending').get() as
    { from_rowid: number } | undefined;
  return row?.from_rowid;
}

const INSERT_INDEX = 'INSERT OR IGNORE INTO search_index (rtype, param, value, rid)';

/**
 * Puts the pending index rows into search_index in key order and clears the mark, in one
 * transaction. `staged`: the mark this connection set, when its temporary table holds the rows of
 * every resource loaded since; otherwise they are rebuilt from resources.index_rows. Returns the
 * rows added to search_index.
 */
export function indexPendingRows(db: Database.Database, staged?: number): number {
  // every open of the store comes here: no write lock unless a mark is there to clear
  if (pendingFrom(db) === undefined) return 0;
  return db
    .transaction(() => {
      const from = pendingFrom(db);
      if (from === undefined) return 0;
      const added =
        from === staged
          ? db
              .prepare(
                `${INSERT_INDEX} SELECT s.rtype, s.param, s.value, s.rid FROM ${STAGED_TABLE} s
                 WHERE NOT EXISTS (SELECT 1 FROM search_index_superseded x
                                   WHERE x.rtype = s.rtype AND x.rid = s.rid)
                 ORDER BY 1, 2, 3, 4`,
              )
              .run().changes
          : db
              .prepare(
                `${INSERT_INDEX} SELECT r.rtype, j.value ->> 0, j.value ->> 1, r.rid
                 FROM resources r, json_each(r.index_rows) j WHERE r.rowid >= ?
                 ORDER BY 1, 2, 3, 4`,
              )
              .run(from).changes;
      db.exec('DELETE FROM search_index_pending; DELETE FROM search_index_superseded;');
      return added;
    })
    .immediate();
}
