import { GENESIS_HASH } from '../../audit/chain.js';

/** Schema migrations for the embedded store, applied in order and recorded in schema_migrations. */
export const SQLITE_MIGRATIONS: string[] = [
  // resources.index_rows holds the resource's current index entries, so an update deletes exactly
  // those rows by primary key instead of keeping a second B-tree over search_index (bulk loads
  // pay for every B-tree). resources and resource_versions are rowid tables: their rows are too
  // large for a WITHOUT ROWID table's key B-tree (measured 4x slower inserts).
  `CREATE TABLE resources (
     rtype TEXT NOT NULL, rid TEXT NOT NULL, version INTEGER NOT NULL, updated TEXT NOT NULL, index_rows TEXT NOT NULL,
     PRIMARY KEY (rtype, rid));
   CREATE TABLE resource_versions (
     rtype TEXT NOT NULL, rid TEXT NOT NULL, version INTEGER NOT NULL, updated TEXT NOT NULL, body TEXT NOT NULL,
     PRIMARY KEY (rtype, rid, version));
   CREATE TABLE search_index (
     rtype TEXT NOT NULL, param TEXT NOT NULL, value TEXT NOT NULL, rid TEXT NOT NULL,
     PRIMARY KEY (rtype, param, value, rid)) WITHOUT ROWID;
   CREATE TABLE audit_log (
     seq INTEGER PRIMARY KEY, recorded TEXT NOT NULL, request_id TEXT NOT NULL, user_id TEXT NOT NULL,
     org TEXT NOT NULL, patient TEXT, action TEXT NOT NULL, record TEXT NOT NULL,
     prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
   -- The audit log is append-only: the database itself refuses edits and deletions.
   CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
   CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;`,
  // The chain head is kept apart from the log, so removing the newest entries is detected too.
  `CREATE TABLE audit_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL);
   INSERT INTO audit_head (id, seq, hash)
     SELECT 1, COALESCE((SELECT seq FROM audit_log ORDER BY seq DESC LIMIT 1), 0),
            COALESCE((SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1), '${GENESIS_HASH}');`,
  `CREATE TABLE request_log (
     request_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL, status INTEGER NOT NULL,
     rtype TEXT NOT NULL, rid TEXT NOT NULL, version INTEGER NOT NULL, recorded TEXT NOT NULL) WITHOUT ROWID;`,
];
