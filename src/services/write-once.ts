/**
 * The one write path for X-Request-ID replay, shared by every service that writes. A write request
 * is new, a retry of one already applied (answered as the first was, not applied again), or a reuse
 * of its X-Request-ID for a different request (400 INVALID_VALUE, nothing written).
 *
 * writeOnce runs a write once per X-Request-ID:
 * 1. replay: when the id is recorded, the earlier answer is given again (or the reuse refused);
 * 2. the write: the service checks, builds and commits its batch with the RequestRecord that
 *    `record` makes (naming the caller, the request's method, path and digest, and the resource
 *    version it produced);
 * 3. the racing twin: the store refuses a second record under one X-Request-ID
 *    (DuplicateRequestError), so of two racing copies one commits; the other fails (on the record,
 *    on a version conflict, or on a 409 a service raises for a version that has moved) and is
 *    answered as the one that committed.
 *
 * Paths and digests come from the HTTP request itself (ctx.fingerprint, set by the FHIR-conventions
 * hook from src/http/request-replay.ts), never from what a service says it is. Outside an HTTP
 * request (a consumer, a sweep, the CLI) there is no fingerprint: nothing is replayed or recorded.
 */
import type { RequestContext } from '../context.js';
import { FhirError } from '../fhir/errors.js';
import { DuplicateRequestError, VersionConflictError } from '../store/errors.js';
import type { RequestRecord } from '../store/request-log.js';
import type { ResourceStore, ResourceType, StoredResource } from '../store/resource-store.js';

/** What a recorded write answered: its status and the resource version it produced. */
export type RecordedAnswer = Pick<
  RequestRecord,
  'status' | 'resourceType' | 'resourceId' | 'version'
>;

/** Makes the request record a write commits with; undefined outside an HTTP request. */
export type RecordRequest = (answer: RecordedAnswer) => RequestRecord | undefined;

/**
 * An earlier request with this X-Request-ID, found to be this very request: its record and the
 * resource version it produced.
 */
export interface EarlierAnswer<R = unknown> {
  record: RequestRecord;
  stored: StoredResource<R>;
}

/**
 * What the write is given: the request record to commit with, and the answer of a twin that has
 * committed meanwhile.
 */
export interface WriteRequest<T> {
  /** The RequestRecord to put in the batch (WriteBatch.request). */
  record: RecordRequest;
  /**
   * The answer a twin of this request gave, when one has committed since the write began; null
   * otherwise. For an outcome a twin may explain that is not a refusal writeOnce recognises (a
   * "duplicate" that is the twin's own record, a merge already made).
   */
  twin(): Promise<T | null>;
}

export interface OnceOnly<T, R = unknown> {
  /**
   * The type of the resource a recorded answer names (what the write commits): the earlier version
   * is read typed by it.
   */
  answers: ResourceType<R>;
  /** Checks, builds and commits the write with `record(...)`; runs only for a request not seen before. */
  write(request: WriteRequest<T>): Promise<T>;
  /** The answer to a retry of this request (or to this request, when a twin committed first). */
  asBefore(earlier: EarlierAnswer<R>): T | Promise<T>;
}

/**
 * A write that records the request but stores no resource (a privacy alert goes into the audit
 * trail only): its retry is answered from the request record alone.
 */
export interface RecordOnly<T> {
  storesNoResource: true;
  write(request: WriteRequest<T>): Promise<T>;
  asBefore(record: RequestRecord): T | Promise<T>;
}

/**
 * Runs a write once per X-Request-ID: replays an earlier answer, or runs `write`; when the write
 * fails as a twin that committed first would make it fail, and this request's X-Request-ID is now
 * recorded, answers as that twin did (or refuses, if the id was taken by a different request). Any
 * other failure is rethrown as it is.
 */
export function writeOnce<T, R>(
  store: ResourceStore,
  ctx: RequestContext,
  op: OnceOnly<T, R>,
): Promise<T>;
export function writeOnce<T>(
  store: ResourceStore,
  ctx: RequestContext,
  op: RecordOnly<T>,
): Promise<T>;
export async function writeOnce<T, R>(
  store: ResourceStore,
  ctx: RequestContext,
  op: OnceOnly<T, R> | RecordOnly<T>,
): Promise<T> {
  const answered = async (): Promise<{ answer: T } | null> => {
    if ('storesNoResource' in op) {
      const record = await recordedRequest(store, ctx);
      return record ? { answer: await op.asBefore(record) } : null;
    }
    const done = await earlierAnswer(store, ctx, op.answers);
    return done ? { answer: await op.asBefore(done) } : null;
  };
  const earlier = await answered();
  if (earlier) return earlier.answer;
  const twin = async () => (await answered())?.answer ?? null;
  try {
    return await op.write({ record: (answer) => requestRecord(ctx, answer), twin });
  } catch (err) {
    if (!mayBeTwin(err)) throw err;
    const done = await answered();
    if (!done) throw err;
    return done.answer;
  }
}

const userOf = (ctx: RequestContext) => ctx.principal?.userId ?? 'anonymous';

function requestRecord(ctx: RequestContext, answer: RecordedAnswer): RequestRecord | undefined {
  if (!ctx.fingerprint) return undefined;
  const { method, path, digest } = ctx.fingerprint();
  return { requestId: ctx.requestId, userId: userOf(ctx), method, path, digest, ...answer };
}

/**
 * The earlier answer to this request when its X-Request-ID has been recorded before; null when the
 * id is new. The id recorded for another user, method, path or digest is refused with 400
 * INVALID_VALUE: a different request must never get another's answer nor be dropped silently.
 * Rows recorded before digests were kept have an empty digest and are refused the same way: they
 * still block a second application, but cannot prove that a request is their retry.
 */
async function recordedRequest(
  store: ResourceStore,
  ctx: RequestContext,
): Promise<RequestRecord | null> {
  if (!ctx.fingerprint) return null;
  const done = await store.readRequest(ctx.requestId);
  if (!done) return null;
  const now = ctx.fingerprint();
  if (
    done.userId !== userOf(ctx) ||
    done.method !== now.method ||
    done.path !== now.path ||
    done.digest !== now.digest
  ) {
    throw new FhirError(
      400,
      'INVALID_VALUE',
      `Invalid value - X-Request-ID '${ctx.requestId}' has already been used for a different request`,
    );
  }
  return done;
}

/** The earlier answer with the resource version it produced (see recordedRequest). */
async function earlierAnswer<R>(
  store: ResourceStore,
  ctx: RequestContext,
  type: ResourceType<R>,
): Promise<EarlierAnswer<R> | null> {
  const done = await recordedRequest(store, ctx);
  if (!done) return null;
  const stored =
    done.resourceType === type
      ? await store.readVersion(type, done.resourceId, done.version)
      : null;
  if (!stored)
    throw new Error(
      `request log names ${done.resourceType}/${done.resourceId} version ${done.version}, which is not a ${type} version that exists`,
    );
  return { record: done, stored };
}

/**
 * Whether a failed write may be a twin of this request (same X-Request-ID) having committed first:
 * its request record, or its change to the same resource, refuses ours. A service's own 409 for a
 * version that has moved (versionMismatch(), a duplicate the twin made) and SCR's dissent recorded
 * meanwhile are covered too.
 */
function mayBeTwin(err: unknown): boolean {
  return (
    err instanceof DuplicateRequestError ||
    err instanceof VersionConflictError ||
    (err instanceof FhirError && (err.status === 409 || err.spineCode === 'SCR_DISSENT'))
  );
}
