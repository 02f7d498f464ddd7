import type { DeadLetter, DeliveredMessage, OutboxMessage } from '../messaging/types.js';
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
    super(
      `version conflict on ${type}/${id}: expected ${expectedVersion}, found ${actualVersion ?? 'none'}`,
    );
    this.name = 'VersionConflictError';
  }
}

export class DuplicateRequestError extends Error {
  constructor(readonly requestId: string) {
    super(`request ${requestId} has already been processed`);
    this.name = 'DuplicateRequestError';
  }
}

/** An outbox message as committed: its sequence number (commit order) and commit time. */
export type OutboxRecord = Omit<DeliveredMessage, 'attempt'>;

/** What replaying a dead letter did. */
export type ReplayOutcome = 'replayed' | 'not-found' | 'already-replayed';

/**
 * Messaging tables of the store (src/messaging uses them; see docs/messaging.md): the outbox
 * (written by commit()), per-consumer cursors and delivery state, dead letters and leader leases.
 * Every claim is safe with several processes on one store. Times are epoch milliseconds.
 */
export interface MessageStore {
  /** Outbox messages with seq > afterSeq, in commit order. */
  readOutbox(afterSeq: number, limit: number): Promise<OutboxRecord[]>;
  /**
   * Moves the consumer's cursor over up to `limit` outbox messages, creating a pending delivery for
   * each whose topic `wanted` accepts. Returns how many outbox messages it moved over (0: caught up,
   * or another process is moving that cursor right now).
   */
  enqueueDeliveries(
    consumer: string,
    wanted: (topic: string) => boolean,
    limit: number,
  ): Promise<number>;
  /**
   * Leases up to `limit` pending deliveries that are due and first of their key (no earlier pending
   * delivery with the same key), counting an attempt on each. At most one holder gets each delivery.
   */
  claimDeliveries(
    consumer: string,
    holder: string,
    limit: number,
    leaseMs: number,
  ): Promise<DeliveredMessage[]>;
  /** Extends holder's lease on a delivery it is still handling. */
  renewDelivery(
    consumer: string,
    messageId: string,
    holder: string,
    leaseMs: number,
  ): Promise<void>;
  /** Marks the message done for the consumer (creating the delivery row if the bus had none); false if it was already done or dead. */
  completeDelivery(consumer: string, message: OutboxRecord): Promise<boolean>;
  /** Releases a failed pending delivery for another attempt at `retryAt`. */
  retryDelivery(consumer: string, messageId: string, error: string, retryAt: number): Promise<void>;
  /** Marks the delivery dead and records a dead letter, atomically; false if it was already done or dead. */
  deadLetter(consumer: string, message: DeliveredMessage, error: string): Promise<boolean>;
  /** 'done' or 'dead' when the consumer has finished with the message (dedupe), else null. */
  deliveryState(consumer: string, messageId: string): Promise<'pending' | 'done' | 'dead' | null>;
  /** Dead letters, newest first. */
  listDeadLetters(query: { consumer?: string; limit: number }): Promise<DeadLetter[]>;
  readDeadLetter(id: string): Promise<DeadLetter | null>;
  /** Puts the dead message back as a pending delivery for its consumer only; `audit` is appended in the same transaction when it replays. */
  replayDeadLetter(id: string, audit?: AuditRecord[]): Promise<ReplayOutcome>;
  /** Outbox messages not yet relayed to NATS, in commit order. */
  unrelayed(limit: number): Promise<OutboxRecord[]>;
  markRelayed(seqs: number[]): Promise<void>;
  /** Takes or renews the named lease for `holder`; true while holder has it (until now + ttlMs). */
  tryAcquireLease(name: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease up, if holder has it. */
  releaseLease(name: string, holder: string): Promise<void>;
  /**
   * Deletes what retention no longer needs, up to `limit` rows of each kind: done deliveries of
   * messages committed before `before`, and outbox rows committed before it that no unfinished
   * delivery (pending, dead) still needs and that every bus is past: relayed (NATS), or behind the
   * cursor of each of `consumers` (embedded).
   */
  sweep(options: {
    before: string;
    consumers: string[];
    requireRelayed: boolean;
    limit: number;
  }): Promise<{ outbox: number; deliveries: number }>;
  /** Calls listener after each commit (in this process) that wrote outbox messages; returns the unsubscribe. */
  onCommitted(listener: () => void): () => void;
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
  /** The current versions of the resources search() would find, in id order, in one round trip. */
  searchResources(query: SearchQuery): Promise<StoredResource[]>;
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
  /** The messaging tables (outbox, deliveries, dead letters, leases). */
  readonly messaging: MessageStore;
  close(): Promise<void>;
}
