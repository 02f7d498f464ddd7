import { GENESIS_HASH } from '../../audit/chain.js';
import { STAGED_INDEX_TABLES } from './staged-index.js';

// 'phonetic' -> 'birthdate-phonetic', 'family-hist' -> 'birthdate-family' (patient-blocking.ts)
const BLOCKING_PARAM_SQL = `'birthdate-' || replace(f.value ->> 0, '-hist', '')`;
const BLOCKING_VALUE_SQL = `(b.value ->> 1) || '|' || (f.value ->> 1)`;
const BLOCKED_PARAMS_SQL = `('family', 'family-hist', 'phonetic', 'postcode', 'postcode-hist')`;

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
  // The audit search index is built after the fact by a catch-up indexer (src/audit/audit-indexer.ts),
  // never in the transaction that appends the entry: the hot read path keeps one insert per entry.
  // Each (column, seq) index serves "newest first" searches on that column with a cursor.
  `CREATE TABLE audit_index (
     seq INTEGER PRIMARY KEY, time TEXT NOT NULL, patient TEXT, user_id TEXT NOT NULL, org TEXT NOT NULL,
     action TEXT NOT NULL, type TEXT NOT NULL);
   CREATE INDEX audit_index_patient ON audit_index (patient, seq);
   CREATE INDEX audit_index_user ON audit_index (user_id, seq);
   CREATE INDEX audit_index_org ON audit_index (org, seq);
   CREATE INDEX audit_index_action ON audit_index (action, seq);
   CREATE INDEX audit_index_type ON audit_index (type, seq);
   CREATE INDEX audit_index_time ON audit_index (time);
   CREATE TABLE audit_index_state (id INTEGER PRIMARY KEY CHECK (id = 1), indexed_seq INTEGER NOT NULL);
   INSERT INTO audit_index_state (id, indexed_seq) VALUES (1, 0);`,
  // Signed chain heads are evidence, append-only like the log they vouch for.
  `CREATE TABLE audit_checkpoints (seq INTEGER PRIMARY KEY, hash TEXT NOT NULL, signed_at TEXT NOT NULL, jws TEXT NOT NULL);
   CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
   CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;`,
  // Messaging (docs/messaging.md): the transactional outbox, written in the commit that changes state;
  // per-consumer cursors over it; one delivery row per (consumer, message) carrying retry state and
  // serving as the dedupe record; dead letters; leader leases. AUTOINCREMENT: a seq is never reused.
  `CREATE TABLE outbox (
     seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, topic TEXT NOT NULL, key TEXT NOT NULL,
     body TEXT NOT NULL, time TEXT NOT NULL, relayed INTEGER NOT NULL DEFAULT 0);
   CREATE INDEX outbox_unrelayed ON outbox (seq) WHERE relayed = 0;
   CREATE TABLE message_cursors (consumer TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
   CREATE TABLE deliveries (
     consumer TEXT NOT NULL, message_id TEXT NOT NULL, seq INTEGER NOT NULL, key TEXT NOT NULL, state TEXT NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL DEFAULT 0, lease_until INTEGER, holder TEXT, last_error TEXT,
     PRIMARY KEY (consumer, message_id)) WITHOUT ROWID;
   CREATE INDEX deliveries_pending ON deliveries (consumer, seq) WHERE state = 'pending';
   CREATE INDEX deliveries_pending_key ON deliveries (consumer, key, seq) WHERE state = 'pending';
   CREATE INDEX deliveries_by_seq ON deliveries (seq);
   CREATE TABLE dead_letters (
     id TEXT PRIMARY KEY, consumer TEXT NOT NULL, message_id TEXT NOT NULL, seq INTEGER NOT NULL, message TEXT NOT NULL,
     attempts INTEGER NOT NULL, last_error TEXT NOT NULL, dead_at TEXT NOT NULL, replayed_at TEXT) WITHOUT ROWID;
   CREATE INDEX dead_letters_by_time ON dead_letters (dead_at);
   CREATE INDEX dead_letters_by_consumer ON dead_letters (consumer, dead_at);
   CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;`,
  // X-Request-ID reuse: each request is recorded with the digest of what it asked for (src/http/request-replay.ts),
  // so a different request under a used id is refused rather than answered as the first. Rows recorded before
  // keep '' and are never taken for a retry.
  `ALTER TABLE request_log ADD COLUMN digest TEXT NOT NULL DEFAULT '';`,
  // The W3C trace context a message was committed in (tracing on), so deliveries continue its trace.
  `ALTER TABLE outbox ADD COLUMN traceparent TEXT;`,
  // PDS blocking keys (src/services/pds/patient-blocking.ts) for patients indexed before them: each
  // family name, Soundex key and postcode, current or previous, joined to the birth date, in
  // search_index and in the patient's own index_rows. New writes carry them from indexPatient.
  `INSERT OR IGNORE INTO search_index (rtype, param, value, rid)
     SELECT r.rtype, ${BLOCKING_PARAM_SQL}, ${BLOCKING_VALUE_SQL}, r.rid
     FROM resources r, json_each(r.index_rows) b, json_each(r.index_rows) f
     WHERE r.rtype = 'Patient' AND (b.value ->> 0) = 'birthdate' AND (f.value ->> 0) IN ${BLOCKED_PARAMS_SQL};
   UPDATE resources SET index_rows = (
     SELECT json_group_array(json(e)) FROM (
       SELECT j.value AS e FROM json_each(resources.index_rows) j
       UNION ALL
       SELECT DISTINCT json_array(${BLOCKING_PARAM_SQL}, ${BLOCKING_VALUE_SQL})
       FROM json_each(resources.index_rows) b, json_each(resources.index_rows) f
       WHERE (b.value ->> 0) = 'birthdate' AND (f.value ->> 0) IN ${BLOCKED_PARAMS_SQL}))
   WHERE rtype = 'Patient' AND index_rows LIKE '%"birthdate"%';`,
  // Search-index rows a bulk seed stages and indexes once, sorted, at its end (staged-index.ts).
  STAGED_INDEX_TABLES,
];
