import type { RequestRecord } from './types.js';

/** The request_log row shape shared by both stores. */
export interface RequestRow {
  request_id: string;
  user_id: string;
  method: string;
  path: string;
  /** '' on rows recorded before request digests were kept (the migration's default). */
  digest: string;
  status: number;
  rtype: string;
  rid: string;
  version: number;
}

export function fromRequestRow(row: RequestRow): RequestRecord {
  return {
    requestId: row.request_id,
    userId: row.user_id,
    method: row.method,
    path: row.path,
    digest: row.digest,
    status: Number(row.status),
    resourceType: row.rtype,
    resourceId: row.rid,
    version: Number(row.version),
  };
}
