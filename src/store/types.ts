import type { OutboxMessage } from '../messaging/types.js';
/**
 * The repository seam: every service talks to storage only through this interface, so the same
 * rules run on the embedded SQLite store and on PostgreSQL. Resources are JSON documents with a
 * version history; searches go through index rows the service supplies, never a document scan.
 */

/** One searchable fact about a resource, e.g. {param: 'family', value: 'smith'}. */
export interface IndexEntry {
  param: string;
  value: string;
}

export interface StoredResource<T = any> {
  type: string;
  id: string;
  version: number;
  lastUpdated: string;
  resource: T;
}

export interface StoredJson {
  version: number;
  lastUpdated: string;
  json: string;
}

export interface ResourceWrite {
  type: string;
  id: string;
  /** The version the writer last saw; 0 means "must not exist yet". A mismatch refuses the whole batch. */
  expectedVersion: number;
  /** The new document. The store sets meta.versionId and meta.lastUpdated. */
  resource: Record<string, any>;
  /** The complete index of the new version; it replaces the previous index rows of the resource. */
  index: IndexEntry[];
}

/** An audit fact; the store adds the sequence number and the hash chain. */
export interface AuditRecord {
  time: string;
  requestId: string;
  correlationId?: string;
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
  /** What kind of event: 'patient-record' (a touch of patient data), 'emergency-access', 'self-claimed-relationship', 'security'. */
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

/**
 * What a write request produced, kept under its X-Request-ID so that a client retrying the same
 * request (after a timeout or a lost reply) gets the original answer instead of doing it twice.
 */
export interface RequestRecord {
  requestId: string;
  userId: string;
  method: string;
  path: string;
  status: number;
  resourceType: string;
  resourceId: string;
  version: number;
}

/** Everything in one batch commits atomically, or nothing does. */
export interface WriteBatch {
  resources?: ResourceWrite[];
  audit?: AuditRecord[];
  /** Outbox messages: published if and only if the batch commits (see src/messaging/types.ts). */
  messages?: OutboxMessage[];
  /** Recorded with the write; a request id seen before refuses the batch with DuplicateRequestError. */
  request?: RequestRecord;
}

export type SearchOp = 'eq' | 'prefix' | 'ge' | 'le' | 'gt' | 'lt';

/** One atomic condition on the index. */
export interface IndexCondition {
  param: string;
  op: SearchOp;
  value: string;
}

/** Conditions in `any` are OR'ed; the criteria of a query are AND'ed. */
export interface SearchCriterion {
  any: IndexCondition[];
}

export interface SearchQuery {
  type: string;
  criteria: SearchCriterion[];
  /** At most this many ids come back (callers ask for one more than they show to detect overflow). */
  limit: number;
}

export class VersionConflictError extends Error {
  constructor(
    readonly type: string,
    readonly id: string,
    readonly expectedVersion: number,
    readonly actualVersion: number | null,
  ) {
    super(`version conflict on ${type}/${id}: expected ${expectedVersion}, found ${actualVersion ?? 'none'}`);
    this.name = 'VersionConflictError';
  }
}

export class DuplicateRequestError extends Error {
  constructor(readonly requestId: string) {
    super(`request ${requestId} has already been processed`);
    this.name = 'DuplicateRequestError';
  }
}

export interface Repository {
  readonly kind: 'sqlite' | 'postgres';
  /** Applies the schema migrations that have not run yet. */
  migrate(): Promise<void>;
  read(type: string, id: string): Promise<StoredResource | null>;
  /** The current version as stored JSON text, unparsed (for hot read paths that can pass it through). */
  readJson(type: string, id: string): Promise<StoredJson | null>;
  readMany(type: string, ids: string[]): Promise<StoredResource[]>;
  readVersion(type: string, id: string, version: number): Promise<StoredResource | null>;
  /** All versions, newest first. */
  history(type: string, id: string): Promise<StoredResource[]>;
  /** Ids matching every criterion, at most query.limit, in id order. */
  search(query: SearchQuery): Promise<string[]>;
  /** Atomically writes resources (with version checks) and audit entries; returns the stored resources. */
  commit(batch: WriteBatch): Promise<StoredResource[]>;
  /** The recorded outcome of an earlier write request with this X-Request-ID, if any. */
  readRequest(requestId: string): Promise<RequestRecord | null>;
  /** Number of current resources of a type (for status and seeding). */
  count(type: string): Promise<number>;
  /** Audit entries with seq > afterSeq, in order. */
  readAudit(afterSeq: number, limit: number): Promise<AuditEntry[]>;
  /** The recorded head of the audit chain (last sequence number and hash). */
  auditHead(): Promise<{ seq: number; hash: string }>;
  /**
   * Indexes the next audit entries (at most pageSize, contiguous from the index checkpoint) and
   * moves the checkpoint past them, in one transaction. Safe when several processes run it at once.
   */
  indexAuditPage(pageSize: number): Promise<{ checkpoint: number; indexed: number }>;
  /** The last seq the audit index covers (every entry up to it is indexed). */
  auditIndexCheckpoint(): Promise<number>;
  /** Seqs of indexed entries matching the query, newest first, at most `limit`. */
  searchAudit(query: AuditQuery, limit: number): Promise<number[]>;
  /** How many indexed entries match the query. */
  countAudit(query: AuditQuery): Promise<number>;
  /** The entries with these seqs that exist, in seq order. */
  readAuditEntries(seqs: number[]): Promise<AuditEntry[]>;
  /** Stores a signed checkpoint; false when one for that seq is already stored (the first one stays). */
  saveAuditCheckpoint(checkpoint: SignedAuditCheckpoint): Promise<boolean>;
  /** Stored checkpoints with fromSeq <= seq <= toSeq, in seq order. */
  auditCheckpoints(fromSeq: number, toSeq: number): Promise<SignedAuditCheckpoint[]>;
  /** The stored checkpoint with the highest seq (below `beforeSeq` when given), if any. */
  latestAuditCheckpoint(beforeSeq?: number): Promise<SignedAuditCheckpoint | null>;
  close(): Promise<void>;
}
