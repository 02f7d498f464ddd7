import { GENESIS_HASH } from '../../audit/chain.js';
import {
  COMMIT_FUNCTION_MIGRATION,
  OUTBOX_TRACEPARENT_MIGRATION,
  REQUEST_DIGEST_MIGRATION,
} from './commit-function.js';

/**
 * Schema migrations for the PostgreSQL store, applied in order and recorded in schema_migrations.
 * Tables, columns and keys mirror the SQLite schema so both stores hold the same facts.
 *
 * Key text columns use COLLATE "C": comparisons and ORDER BY are then byte-wise on UTF-8, exactly like
 * SQLite's BINARY collation, so prefix ranges (value >= p AND value < p || U+FFFF) and id order agree
 * between stores whatever the database's default locale is.
 *
 * Scale-out: the patient-keyed tables (resources, resource_versions, search_index) are keyed by
 * (rtype, rid), and for Patient the rid is the NHS Number, so rid is the natural distribution column on
 * Citus / YugabyteDB (e.g. SELECT create_distributed_table('resource_versions', 'rid')); every read and
 * write of one patient then stays on one shard. audit_log and audit_head are a single global chain:
 * keep them as a reference (or coordinator-local) append-only table, not distributed by patient.
 */
export const POSTGRES_MIGRATIONS: string[] = [
  `CREATE TABLE resources (
     rtype TEXT COLLATE "C" NOT NULL, rid TEXT COLLATE "C" NOT NULL, version INTEGER NOT NULL, updated TEXT NOT NULL,
     PRIMARY KEY (rtype, rid));
   CREATE TABLE resource_versions (
     rtype TEXT COLLATE "C" NOT NULL, rid TEXT COLLATE "C" NOT NULL, version INTEGER NOT NULL, updated TEXT NOT NULL,
     body TEXT NOT NULL,
     PRIMARY KEY (rtype, rid, version));
   CREATE TABLE search_index (
     rtype TEXT COLLATE "C" NOT NULL, param TEXT COLLATE "C" NOT NULL, value TEXT COLLATE "C" NOT NULL,
     rid TEXT COLLATE "C" NOT NULL,
     PRIMARY KEY (rtype, param, value, rid));
   CREATE INDEX search_index_by_resource ON search_index (rtype, rid);
   CREATE TABLE audit_log (
     seq BIGINT PRIMARY KEY, recorded TEXT NOT NULL, request_id TEXT NOT NULL, user_id TEXT NOT NULL,
     org TEXT NOT NULL, patient TEXT, action TEXT NOT NULL, record TEXT NOT NULL,
     prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
   -- The chain head lives in one row: appenders lock it (SELECT ... FOR UPDATE), which serialises
   -- audit appends across every process and keeps the chain linear (an empty log has no row to lock).
   CREATE TABLE audit_head (
     id BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (id), seq BIGINT NOT NULL, hash TEXT NOT NULL);
   INSERT INTO audit_head (id, seq, hash) VALUES (TRUE, 0, '${GENESIS_HASH}');
   -- The audit log is append-only: the database itself refuses edits, deletions and truncation.
   CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     RAISE EXCEPTION 'audit log is append-only';
   END $$;
   CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
     FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
   CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
     FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();`,
  `CREATE TABLE request_log (
     request_id TEXT COLLATE "C" PRIMARY KEY, user_id TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL,
     status INTEGER NOT NULL, rtype TEXT NOT NULL, rid TEXT NOT NULL, version INTEGER NOT NULL, recorded TEXT NOT NULL);`,
  // The audit search index, built after the fact by catch-up indexers on any node (never in the
  // transaction that appends the entry). Indexers take turns on the audit_index_state row lock;
  // inserts ignore rows already there and the checkpoint only moves forward.
  `CREATE TABLE audit_index (
     seq BIGINT PRIMARY KEY, time TEXT COLLATE "C" NOT NULL, patient TEXT COLLATE "C", user_id TEXT COLLATE "C" NOT NULL,
     org TEXT COLLATE "C" NOT NULL, action TEXT COLLATE "C" NOT NULL, type TEXT COLLATE "C" NOT NULL);
   CREATE INDEX audit_index_patient ON audit_index (patient, seq);
   CREATE INDEX audit_index_user ON audit_index (user_id, seq);
   CREATE INDEX audit_index_org ON audit_index (org, seq);
   CREATE INDEX audit_index_action ON audit_index (action, seq);
   CREATE INDEX audit_index_type ON audit_index (type, seq);
   CREATE INDEX audit_index_time ON audit_index (time);
   CREATE TABLE audit_index_state (id BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (id), indexed_seq BIGINT NOT NULL);
   INSERT INTO audit_index_state (id, indexed_seq) VALUES (TRUE, 0);`,
  // Signed chain heads are evidence, append-only like the log they vouch for.
  `CREATE TABLE audit_checkpoints (seq BIGINT PRIMARY KEY, hash TEXT NOT NULL, signed_at TEXT NOT NULL, jws TEXT NOT NULL);
   CREATE FUNCTION audit_checkpoints_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     RAISE EXCEPTION 'audit checkpoints are append-only';
   END $$;
   CREATE TRIGGER audit_checkpoints_no_update_delete BEFORE UPDATE OR DELETE ON audit_checkpoints
     FOR EACH ROW EXECUTE FUNCTION audit_checkpoints_append_only();`,
  // Messaging (docs/messaging.md). Outbox seqs come from the outbox_head row, locked last in the
  // committing transaction: commits carrying messages take turns for that short tail, so seqs
  // become visible in commit order and a cursor never skips a message committed late.
  `CREATE TABLE outbox (
     seq BIGINT PRIMARY KEY, id TEXT COLLATE "C" NOT NULL UNIQUE, topic TEXT COLLATE "C" NOT NULL, key TEXT COLLATE "C" NOT NULL,
     body TEXT NOT NULL, time TEXT NOT NULL, relayed BOOLEAN NOT NULL DEFAULT FALSE);
   CREATE INDEX outbox_unrelayed ON outbox (seq) WHERE NOT relayed;
   CREATE TABLE outbox_head (id BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (id), seq BIGINT NOT NULL);
   INSERT INTO outbox_head (id, seq) VALUES (TRUE, 0);
   CREATE TABLE message_cursors (consumer TEXT COLLATE "C" PRIMARY KEY, seq BIGINT NOT NULL);
   CREATE TABLE deliveries (
     consumer TEXT COLLATE "C" NOT NULL, message_id TEXT COLLATE "C" NOT NULL, seq BIGINT NOT NULL, key TEXT COLLATE "C" NOT NULL,
     state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at BIGINT NOT NULL DEFAULT 0, lease_until BIGINT,
     holder TEXT, last_error TEXT,
     PRIMARY KEY (consumer, message_id));
   CREATE INDEX deliveries_pending ON deliveries (consumer, seq) WHERE state = 'pending';
   CREATE INDEX deliveries_pending_key ON deliveries (consumer, key, seq) WHERE state = 'pending';
   CREATE INDEX deliveries_by_seq ON deliveries (seq);
   CREATE TABLE dead_letters (
     id TEXT COLLATE "C" PRIMARY KEY, consumer TEXT COLLATE "C" NOT NULL, message_id TEXT NOT NULL, seq BIGINT NOT NULL,
     message TEXT NOT NULL, attempts INTEGER NOT NULL, last_error TEXT NOT NULL, dead_at TEXT COLLATE "C" NOT NULL, replayed_at TEXT);
   CREATE INDEX dead_letters_by_time ON dead_letters (dead_at);
   CREATE INDEX dead_letters_by_consumer ON dead_letters (consumer, dead_at);
   CREATE TABLE leases (name TEXT COLLATE "C" PRIMARY KEY, holder TEXT NOT NULL, expires_at BIGINT NOT NULL);`,
  // Every write batch as one server-side call (commit-function.ts).
  COMMIT_FUNCTION_MIGRATION,
  // request_log.digest, and openspine_commit recording it (commit-function.ts).
  REQUEST_DIGEST_MIGRATION,
  // outbox.traceparent, and openspine_commit writing it (commit-function.ts).
  OUTBOX_TRACEPARENT_MIGRATION,
  // PDS blocking keys (src/services/pds/patient-blocking.ts) for patients indexed before them: each
  // family name, Soundex key and postcode, current or previous, joined to the birth date.
  `INSERT INTO search_index (rtype, param, value, rid)
     SELECT DISTINCT b.rtype, 'birthdate-' || replace(f.param, '-hist', ''), b.value || '|' || f.value, b.rid
     FROM search_index b JOIN search_index f ON f.rtype = b.rtype AND f.rid = b.rid
     WHERE b.rtype = 'Patient' AND b.param = 'birthdate'
       AND f.param IN ('family', 'family-hist', 'phonetic', 'postcode', 'postcode-hist')
     ON CONFLICT DO NOTHING;`,
];
