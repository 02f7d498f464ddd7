import type { AuditQuery } from './types.js';

/** SQL of the audit search index, shared by both stores. */

/**
 * The index row of each audit_log row: the columns the log already has, and the record's type read
 * by the database from the record JSON (no parse in JavaScript). Entries without a type are
 * 'patient-record', as auditRecord() writes them.
 */
export const AUDIT_INDEX_COLUMNS = {
  sqlite: `seq, recorded, NULLIF(patient, ''), user_id, org, action, COALESCE(NULLIF(json_extract(record, '$.type'), ''), 'patient-record')`,
  postgres: `seq, recorded, NULLIF(patient, ''), user_id, org, action, COALESCE(NULLIF(record::jsonb ->> 'type', ''), 'patient-record')`,
} as const;

/** Only the contiguous run of seqs starting right after `checkpoint`, so the index never has holes. */
export function contiguousFrom<T extends { seq: number }>(checkpoint: number, rows: T[]): T[] {
  let n = 0;
  while (n < rows.length && rows[n].seq === checkpoint + n + 1) n++;
  return rows.slice(0, n);
}

/** The WHERE clause of an audit index query; `p(n)` renders the n-th placeholder in the dialect. */
export function auditWhere(
  query: AuditQuery,
  p: (n: number) => string,
): { where: string; params: unknown[] } {
  const params: unknown[] = [];
  const add = (v: unknown) => {
    params.push(v);
    return p(params.length);
  };
  const conditions: string[] = [];
  if (query.patient !== undefined) conditions.push(`patient = ${add(query.patient)}`);
  if (query.userId !== undefined) conditions.push(`user_id = ${add(query.userId)}`);
  if (query.org !== undefined) conditions.push(`org = ${add(query.org)}`);
  if (query.action !== undefined) conditions.push(`action = ${add(query.action)}`);
  if (query.type !== undefined) conditions.push(`type = ${add(query.type)}`);
  // entries without a time (bulk loads) match no time window, not every window below a bound
  if (query.timeFrom !== undefined || query.timeBefore !== undefined) conditions.push(`time <> ''`);
  if (query.timeFrom !== undefined) conditions.push(`time >= ${add(query.timeFrom)}`);
  if (query.timeBefore !== undefined) conditions.push(`time < ${add(query.timeBefore)}`);
  if (query.maxSeq !== undefined) conditions.push(`seq <= ${add(query.maxSeq)}`);
  if (query.beforeSeq !== undefined) conditions.push(`seq < ${add(query.beforeSeq)}`);
  return { where: conditions.length ? `WHERE ${conditions.join(' AND ')}` : '', params };
}
