/**
 * The audit trail's facts, as services record them and as the store keeps them (hash-chained, see
 * src/audit/chain.ts). The store's side of the trail is the AuditStore port (src/store/audit-store.ts).
 */

/** An audit fact; the store adds the sequence number and the hash chain. */
export interface AuditRecord {
  time: string;
  requestId: string;
  correlationId?: string;
  /** The OpenTelemetry trace of the request, when tracing is on: the way from an entry to its spans. */
  traceId?: string;
  userId: string;
  /** Display name of the user, patient or application, when known (patients see it in their access log). */
  userName?: string;
  /** 'user', 'patient' or 'application'. */
  actorKind?: string;
  role: string;
  org: string;
  patient: string | null;
  action: string;
  outcome: string;
  /** Why: 'direct-care' by default; 'emergency-access' or 'self-claimed-relationship' when that is the basis. */
  purpose?: string;
  /**
   * What kind of event: 'patient-record' (a touch of patient data), 'emergency-access',
   * 'self-claimed-relationship', 'security'.
   */
  type?: string;
  detail?: Record<string, unknown>;
}

/**
 * Filters of an audit trail search over the audit index; every filter given must hold. Times are ISO
 * instants (Date.toISOString), compared as text.
 */
export interface AuditQuery {
  patient?: string;
  userId?: string;
  org?: string;
  action?: string;
  type?: string;
  /** Entries recorded at or after this instant. */
  timeFrom?: string;
  /** Entries recorded strictly before this instant. */
  timeBefore?: string;
  /** Only entries up to this seq: the snapshot a (paged) search started from. */
  maxSeq?: number;
  /** Only entries older than this seq: the cursor of the next page. */
  beforeSeq?: number;
}

/** The audit chain head {seq, hash} at `time`, signed by the server as a compact JWS. */
export interface SignedAuditCheckpoint {
  seq: number;
  hash: string;
  time: string;
  jws: string;
}

export interface AuditEntry {
  seq: number;
  record: AuditRecord;
  /** The record exactly as stored: what the hash covers. */
  recordJson: string;
  prevHash: string;
  hash: string;
}
