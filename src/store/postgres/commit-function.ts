import type { OutboxMessage } from '../../messaging/types.js';
import type { AuditRecord } from '../../audit/types.js';
import type { RequestRecord } from '../request-log.js';
import type { ResourceWrite } from '../resource-store.js';

/**
 * SQLSTATEs raised inside openspine_commit for one batch, reported back per batch as its outcome and
 * mapped to the store's typed errors by the repository. Class "OS" is not used by PostgreSQL itself.
 */
export const VERSION_CONFLICT_STATE = 'OSVER';
export const DUPLICATE_REQUEST_STATE = 'OSREQ';

/**
 * Several write batches as one server-side call, run as its own (autocommit) statement.
 *
 * Why: the audit chain head and the outbox head are single rows that every commit locks until it has
 * committed, so commits take turns there. Held across client round trips, that lock was held while
 * the application process was busy with other requests (two thirds of the backends were waiting on
 * it under the EPS bench); even held only inside the server, each turn still pays its own WAL flush.
 * So the batches that queue up in one process meanwhile go together (GroupCommitter): one lock turn
 * and one flush for all of them.
 *
 * Each batch runs in its own subtransaction: a version conflict, a repeated request id or a duplicate
 * key refuses that batch alone (its outcome is the SQLSTATE and detail) and the others commit. Audit
 * entries and outbox messages of the batches that succeeded are appended last, in batch order.
 *
 * The chain hash is chainHash() of src/audit/chain.ts: sha256 over the UTF-8 bytes of prev_hash, "\n",
 * seq, "\n", record text, in hex; convert_to(..., 'UTF8') yields those bytes whatever the database encoding.
 */
const COMMIT_FUNCTION = `
CREATE OR REPLACE FUNCTION openspine_commit(
  batch_count INTEGER, r_batch INTEGER[], r_type TEXT[], r_id TEXT[], r_expected INTEGER[], r_updated TEXT[], r_body TEXT[],
  r_index_from INTEGER[], r_index_to INTEGER[], i_param TEXT[], i_value TEXT[],
  q_batch INTEGER[], q_request_id TEXT[], q_user TEXT[], q_method TEXT[], q_path TEXT[], q_digest TEXT[], q_status INTEGER[],
  q_rtype TEXT[], q_rid TEXT[], q_version INTEGER[], q_recorded TEXT[],
  a_batch INTEGER[], a_recorded TEXT[], a_request_id TEXT[], a_user TEXT[], a_org TEXT[], a_patient TEXT[], a_action TEXT[], a_record TEXT[],
  m_batch INTEGER[], m_id TEXT[], m_topic TEXT[], m_key TEXT[], m_body TEXT[], m_time TEXT[], m_traceparent TEXT[]
) RETURNS TEXT[] LANGUAGE plpgsql AS $fn$
DECLARE
  outcome TEXT[] := array_fill(NULL::TEXT, ARRAY[batch_count]);
  b INTEGER;
  n INTEGER := 1;
  q INTEGER := 1;
  found_version INTEGER;
  failed_state TEXT;
  failed_detail TEXT;
  seq_now BIGINT;
  hash_now TEXT;
  hash_next TEXT;
  appended INTEGER := 0;
BEGIN
  FOR b IN 1 .. batch_count LOOP
    BEGIN
      WHILE n <= coalesce(array_length(r_batch, 1), 0) AND r_batch[n] = b LOOP
        IF r_expected[n] = 0 THEN
          INSERT INTO resources (rtype, rid, version, updated) VALUES (r_type[n], r_id[n], 1, r_updated[n]) ON CONFLICT DO NOTHING;
        ELSE
          UPDATE resources SET version = version + 1, updated = r_updated[n]
           WHERE rtype = r_type[n] AND rid = r_id[n] AND version = r_expected[n];
        END IF;
        IF NOT FOUND THEN
          SELECT version INTO found_version FROM resources WHERE rtype = r_type[n] AND rid = r_id[n];
          RAISE EXCEPTION USING ERRCODE = '${VERSION_CONFLICT_STATE}', MESSAGE = 'version conflict',
            DETAIL = json_build_object('type', r_type[n], 'id', r_id[n], 'expected', r_expected[n], 'found', found_version)::text;
        END IF;
        IF r_expected[n] <> 0 THEN
          DELETE FROM search_index WHERE rtype = r_type[n] AND rid = r_id[n];
        END IF;
        INSERT INTO resource_versions (rtype, rid, version, updated, body) VALUES (r_type[n], r_id[n], r_expected[n] + 1, r_updated[n], r_body[n]);
        IF r_index_to[n] >= r_index_from[n] THEN
          INSERT INTO search_index (rtype, param, value, rid)
          SELECT r_type[n], t.param, t.value, r_id[n]
            FROM unnest(i_param[r_index_from[n]:r_index_to[n]], i_value[r_index_from[n]:r_index_to[n]]) AS t(param, value)
          ON CONFLICT DO NOTHING;
        END IF;
        n := n + 1;
      END LOOP;
      IF q <= coalesce(array_length(q_batch, 1), 0) AND q_batch[q] = b THEN
        INSERT INTO request_log (request_id, user_id, method, path, digest, status, rtype, rid, version, recorded)
        VALUES (q_request_id[q], q_user[q], q_method[q], q_path[q], q_digest[q], q_status[q], q_rtype[q], q_rid[q], q_version[q], q_recorded[q])
        ON CONFLICT DO NOTHING;
        IF NOT FOUND THEN
          RAISE EXCEPTION USING ERRCODE = '${DUPLICATE_REQUEST_STATE}', MESSAGE = 'request already processed', DETAIL = q_request_id[q];
        END IF;
      END IF;
    EXCEPTION WHEN SQLSTATE '${VERSION_CONFLICT_STATE}' OR SQLSTATE '${DUPLICATE_REQUEST_STATE}' OR unique_violation THEN
      GET STACKED DIAGNOSTICS failed_state = RETURNED_SQLSTATE, failed_detail = PG_EXCEPTION_DETAIL;
      outcome[b] := failed_state || ' ' || coalesce(failed_detail, '');
    END;
    -- skip the rest of a refused batch
    WHILE n <= coalesce(array_length(r_batch, 1), 0) AND r_batch[n] = b LOOP n := n + 1; END LOOP;
    IF q <= coalesce(array_length(q_batch, 1), 0) AND q_batch[q] = b THEN q := q + 1; END IF;
  END LOOP;

  IF coalesce(array_length(a_batch, 1), 0) > 0 THEN
    SELECT seq, hash INTO seq_now, hash_now FROM audit_head WHERE id FOR UPDATE;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'audit_head row is missing: the audit chain head cannot be located';
    END IF;
    FOR n IN 1 .. array_length(a_batch, 1) LOOP
      CONTINUE WHEN outcome[a_batch[n]] IS NOT NULL;
      seq_now := seq_now + 1;
      hash_next := encode(sha256(convert_to(hash_now || E'\\n' || seq_now::text || E'\\n' || a_record[n], 'UTF8')), 'hex');
      INSERT INTO audit_log (seq, recorded, request_id, user_id, org, patient, action, record, prev_hash, hash)
      VALUES (seq_now, a_recorded[n], a_request_id[n], a_user[n], a_org[n], a_patient[n], a_action[n], a_record[n], hash_now, hash_next);
      hash_now := hash_next;
      appended := appended + 1;
    END LOOP;
    IF appended > 0 THEN
      UPDATE audit_head SET seq = seq_now, hash = hash_now WHERE id;
    END IF;
  END IF;

  IF coalesce(array_length(m_batch, 1), 0) > 0 THEN
    SELECT seq INTO seq_now FROM outbox_head WHERE id FOR UPDATE;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'outbox_head row is missing';
    END IF;
    appended := 0;
    FOR n IN 1 .. array_length(m_batch, 1) LOOP
      CONTINUE WHEN outcome[m_batch[n]] IS NOT NULL;
      -- an id already in the outbox is not written again (a replayed message)
      INSERT INTO outbox (seq, id, topic, key, body, time, traceparent)
      VALUES (seq_now + appended + 1, m_id[n], m_topic[n], m_key[n], m_body[n], m_time[n], m_traceparent[n]) ON CONFLICT (id) DO NOTHING;
      IF FOUND THEN appended := appended + 1; END IF;
    END LOOP;
    IF appended > 0 THEN
      UPDATE outbox_head SET seq = seq_now + appended WHERE id;
    END IF;
  END IF;
  RETURN outcome;
END
$fn$;`;

/**
 * The migration that first made openspine_commit. It makes the current definition: in a new schema
 * the request-digest migration below then replaces it with itself, in a schema made before that
 * migration this step has long run (with the definition of its day) and is not run again.
 */
export const COMMIT_FUNCTION_MIGRATION = COMMIT_FUNCTION;

/** The arguments of openspine_commit before request digests, to drop that definition by its signature. */
const SIGNATURE_BEFORE_DIGESTS = [
  'INTEGER',
  'INTEGER[]',
  'TEXT[]',
  'TEXT[]',
  'INTEGER[]',
  'TEXT[]',
  'TEXT[]',
  'INTEGER[]',
  'INTEGER[]',
  'TEXT[]',
  'TEXT[]',
  'INTEGER[]',
  'TEXT[]',
  'TEXT[]',
  'TEXT[]',
  'TEXT[]',
  'INTEGER[]',
  'TEXT[]',
  'TEXT[]',
  'INTEGER[]',
  'TEXT[]',
  'INTEGER[]',
  'TEXT[]',
  'TEXT[]',
  'TEXT[]',
  'TEXT[]',
  'TEXT[]',
  'TEXT[]',
  'TEXT[]',
  'INTEGER[]',
  'TEXT[]',
  'TEXT[]',
  'TEXT[]',
  'TEXT[]',
  'TEXT[]',
].join(', ');

/**
 * X-Request-ID reuse: each request is recorded with the digest of what it asked for
 * (src/http/request-replay.ts), so a different request under a used id is refused rather than
 * answered as the first. Rows recorded before keep '' and are never taken for a retry. The commit
 * function gains the digest argument: the old definition goes (a new argument list would otherwise
 * sit beside it as an overload) and the current one is made.
 */
export const REQUEST_DIGEST_MIGRATION = `
ALTER TABLE request_log ADD COLUMN digest TEXT NOT NULL DEFAULT '';
DROP FUNCTION IF EXISTS openspine_commit(${SIGNATURE_BEFORE_DIGESTS});
${COMMIT_FUNCTION}`;

/** The arguments of openspine_commit before outbox trace context (resources, request log, audit, outbox). */
const SIGNATURE_BEFORE_TRACEPARENT = [
  ...['INTEGER', 'INTEGER[]', 'TEXT[]', 'TEXT[]', 'INTEGER[]', 'TEXT[]', 'TEXT[]'],
  ...['INTEGER[]', 'INTEGER[]', 'TEXT[]', 'TEXT[]'],
  ...['INTEGER[]', 'TEXT[]', 'TEXT[]', 'TEXT[]', 'TEXT[]', 'TEXT[]', 'INTEGER[]'],
  ...['TEXT[]', 'TEXT[]', 'INTEGER[]', 'TEXT[]'],
  ...['INTEGER[]', 'TEXT[]', 'TEXT[]', 'TEXT[]', 'TEXT[]', 'TEXT[]', 'TEXT[]', 'TEXT[]'],
  ...['INTEGER[]', 'TEXT[]', 'TEXT[]', 'TEXT[]', 'TEXT[]', 'TEXT[]'],
].join(', ');

/**
 * Outbox messages keep the W3C trace context they were committed in (tracing on; NULL otherwise),
 * so a delivery on any node continues the request's trace. openspine_commit gains the argument.
 */
export const OUTBOX_TRACEPARENT_MIGRATION = `
ALTER TABLE outbox ADD COLUMN traceparent TEXT;
DROP FUNCTION IF EXISTS openspine_commit(${SIGNATURE_BEFORE_TRACEPARENT});
${COMMIT_FUNCTION}`;

export const COMMIT_CALL = `SELECT openspine_commit(${Array.from({ length: 37 }, (_, i) => '$' + (i + 1)).join(', ')}) AS outcome`;

/** One batch as prepared for the call: the stored bodies are made in the application, with their version and time. */
export interface PreparedBatch {
  resources: { write: ResourceWrite; body: string; updated: string }[];
  request?: RequestRecord;
  audit: AuditRecord[];
  messages: OutboxMessage[];
  /** When the batch was made: the request log and outbox times. */
  time: string;
}

/** The 37 positional parameters of openspine_commit for batches 1..n, in order. */
export function commitParameters(batches: PreparedBatch[]): unknown[] {
  const r = {
    batch: [] as number[],
    type: [] as string[],
    id: [] as string[],
    expected: [] as number[],
    updated: [] as string[],
    body: [] as string[],
    from: [] as number[],
    to: [] as number[],
  };
  const i = { param: [] as string[], value: [] as string[] };
  const q = {
    batch: [] as number[],
    id: [] as string[],
    user: [] as string[],
    method: [] as string[],
    path: [] as string[],
    digest: [] as string[],
    status: [] as number[],
    rtype: [] as string[],
    rid: [] as string[],
    version: [] as number[],
    recorded: [] as string[],
  };
  const a = {
    batch: [] as number[],
    recorded: [] as string[],
    request: [] as string[],
    user: [] as string[],
    org: [] as string[],
    patient: [] as (string | null)[],
    action: [] as string[],
    record: [] as string[],
  };
  const m = {
    batch: [] as number[],
    id: [] as string[],
    topic: [] as string[],
    key: [] as string[],
    body: [] as string[],
    time: [] as string[],
    traceparent: [] as (string | null)[],
  };
  batches.forEach((batch, k) => {
    const b = k + 1;
    for (const { write, body, updated } of batch.resources) {
      r.batch.push(b);
      r.type.push(write.type);
      r.id.push(write.id);
      r.expected.push(write.expectedVersion);
      r.updated.push(updated);
      r.body.push(body);
      r.from.push(i.param.length + 1);
      for (const e of write.index) {
        i.param.push(e.param);
        i.value.push(e.value);
      }
      r.to.push(i.param.length);
    }
    const rq = batch.request;
    if (rq) {
      q.batch.push(b);
      q.id.push(rq.requestId);
      q.user.push(rq.userId);
      q.method.push(rq.method);
      q.path.push(rq.path);
      q.digest.push(rq.digest);
      q.status.push(rq.status);
      q.rtype.push(rq.resourceType);
      q.rid.push(rq.resourceId);
      q.version.push(rq.version);
      q.recorded.push(batch.time);
    }
    for (const e of batch.audit) {
      a.batch.push(b);
      a.recorded.push(e.time);
      a.request.push(e.requestId);
      a.user.push(e.userId);
      a.org.push(e.org);
      a.patient.push(e.patient ?? null);
      a.action.push(e.action);
      a.record.push(JSON.stringify(e));
    }
    for (const msg of batch.messages) {
      m.batch.push(b);
      m.id.push(msg.id);
      m.topic.push(msg.topic);
      m.key.push(msg.key);
      m.body.push(JSON.stringify(msg.body ?? null));
      m.time.push(batch.time);
      m.traceparent.push(msg.traceparent ?? null);
    }
  });
  return [
    batches.length,
    r.batch,
    r.type,
    r.id,
    r.expected,
    r.updated,
    r.body,
    r.from,
    r.to,
    i.param,
    i.value,
    q.batch,
    q.id,
    q.user,
    q.method,
    q.path,
    q.digest,
    q.status,
    q.rtype,
    q.rid,
    q.version,
    q.recorded,
    a.batch,
    a.recorded,
    a.request,
    a.user,
    a.org,
    a.patient,
    a.action,
    a.record,
    m.batch,
    m.id,
    m.topic,
    m.key,
    m.body,
    m.time,
    m.traceparent,
  ];
}
