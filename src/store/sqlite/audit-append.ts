import type Database from 'better-sqlite3';
import { chainHash, GENESIS_HASH } from '../../audit/chain.js';
import type { AuditRecord } from '../../audit/types.js';

export type Prepare = (sql: string) => Database.Statement;

export function readAuditHead(prepare: Prepare): { seq: number; hash: string } {
  const row = prepare('SELECT seq, hash FROM audit_head').get() as
    { seq: number; hash: string } | undefined;
  return row ? { seq: row.seq, hash: row.hash } : { seq: 0, hash: GENESIS_HASH };
}

/**
 * Appends records to the hash chain and moves the head. Call inside a write transaction: the head is
 * read under the write lock, so appends from other connections (the bulk loader, other processes)
 * are never missed or forked.
 */
export function appendAuditRecords(prepare: Prepare, records: AuditRecord[]): void {
  const head = readAuditHead(prepare);
  const insert = prepare(
    `INSERT INTO audit_log (seq, recorded, request_id, user_id, org, patient, action, record, prev_hash, hash)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  for (const record of records) {
    const json = JSON.stringify(record);
    const seq = head.seq + 1;
    const hash = chainHash(head.hash, seq, json);
    insert.run(
      seq,
      record.time,
      record.requestId,
      record.userId,
      record.org,
      record.patient ?? null,
      record.action,
      json,
      head.hash,
      hash,
    );
    head.seq = seq;
    head.hash = hash;
  }
  prepare('UPDATE audit_head SET seq = ?, hash = ?').run(head.seq, head.hash);
}
