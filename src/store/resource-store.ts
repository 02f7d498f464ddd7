import type { AuditRecord } from '../audit/types.js';
import type { OutboxMessage } from '../messaging/types.js';
import type { RequestRecord } from './request-log.js';

/**
 * The resource side of the store: all the services use. Resources are JSON documents with a version
 * history; searches go through index rows the service supplies, never a document scan. The same
 * rules run on the embedded SQLite store and on PostgreSQL.
 */

/**
 * A resource type's name, carrying the document type its resources have, so that
 * `read(PATIENT, id)` gives a StoredResource<Patient> when PATIENT is a ResourceType<Patient>.
 * Declare one with resourceType() where the type is owned; a plain string is accepted too (the
 * resource is then untyped).
 */
export type ResourceType<T = unknown> = string & { readonly __resource?: T };

/** The typed name of a resource type, e.g. `resourceType<Patient>('Patient')`. */
export function resourceType<T>(name: string): ResourceType<T> {
  return name as ResourceType<T>;
}

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
  /**
   * The caller knows this criterion is the rarest (a blocking key: docs/pds.md): the search drives
   * from it without first counting every criterion's rows, one round trip and its reads fewer.
   */
  drive?: boolean;
}

export interface SearchQuery<T = any> {
  type: ResourceType<T>;
  criteria: SearchCriterion[];
  /** At most this many ids come back (callers ask for one more than they show to detect overflow). */
  limit: number;
}

/**
 * Reads, searches and the one atomic write. Reads are typed by the resource type's token: a
 * ResourceType<T> gives StoredResource<T>; a plain string gives an untyped resource.
 */
export interface ResourceStore {
  read<T = any>(type: ResourceType<T>, id: string): Promise<StoredResource<T> | null>;
  /** The current version as stored JSON text, unparsed (for hot read paths that can pass it through). */
  readJson(type: string, id: string): Promise<StoredJson | null>;
  readMany<T = any>(type: ResourceType<T>, ids: string[]): Promise<StoredResource<T>[]>;
  readVersion<T = any>(
    type: ResourceType<T>,
    id: string,
    version: number,
  ): Promise<StoredResource<T> | null>;
  /** All versions, newest first. */
  history<T = any>(type: ResourceType<T>, id: string): Promise<StoredResource<T>[]>;
  /** Ids matching every criterion, at most query.limit, in id order. */
  search(query: SearchQuery): Promise<string[]>;
  /** The current versions of the resources search() would find, in id order, in one round trip. */
  searchResources<T = any>(query: SearchQuery<T>): Promise<StoredResource<T>[]>;
  /**
   * Atomically writes resources (with version checks), audit entries, outbox messages and the
   * request record; returns the stored resources. Refuses the whole batch with
   * VersionConflictError or DuplicateRequestError (src/store/errors.ts).
   */
  commit(batch: WriteBatch): Promise<StoredResource[]>;
  /** The recorded outcome of an earlier write request with this X-Request-ID, if any. */
  readRequest(requestId: string): Promise<RequestRecord | null>;
  /** Number of current resources of a type (for status and seeding). */
  count(type: string): Promise<number>;
}
