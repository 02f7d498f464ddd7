/**
 * What a write request produced, kept under its X-Request-ID so that a client retrying the same
 * request (after a timeout or a lost reply) gets the original answer instead of doing it twice.
 */
export interface RequestRecord {
  requestId: string;
  userId: string;
  method: string;
  path: string;
  /**
   * sha256 of the request's canonical form (src/http/request-replay.ts): a request reusing the
   * X-Request-ID is a retry only when it has the same user, method, path and digest. Empty on rows
   * recorded before digests were kept.
   */
  digest: string;
  status: number;
  resourceType: string;
  resourceId: string;
  version: number;
}

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
