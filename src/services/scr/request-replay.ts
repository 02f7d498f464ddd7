import { FhirError } from '../../fhir/errors.js';
import type { RequestContext } from '../../http/request-context.js';
import { DuplicateRequestError, VersionConflictError, type Repository, type RequestRecord, type StoredResource } from '../../store/types.js';

/**
 * X-Request-ID replay for SCR writes, as PDS does it: a write commits with a RequestRecord naming
 * what it created; a retry with the same X-Request-ID gets that original resource version back
 * instead of writing again, and the same id reused by another user or for another request is
 * refused. Paths are prefixed 'scr/' so they cannot be mistaken for a PDS request's.
 */

export function requestRecord(ctx: RequestContext, path: string, status: number, resourceType: string, resourceId: string, version: number): RequestRecord {
  return { requestId: ctx.requestId, userId: ctx.principal?.userId ?? 'anonymous', method: 'POST', path, status, resourceType, resourceId, version };
}

/** The resource version an earlier request with this X-Request-ID created, or null when there was none. */
export async function earlierAnswer(repo: Repository, ctx: RequestContext, path: string): Promise<StoredResource | null> {
  const done = await repo.readRequest(ctx.requestId);
  if (!done) return null;
  if (done.userId !== (ctx.principal?.userId ?? 'anonymous') || done.method !== 'POST' || done.path !== path) {
    throw new FhirError(400, 'INVALID_VALUE', `Invalid value - X-Request-ID '${ctx.requestId}' has already been used for a different request`);
  }
  const stored = await repo.readVersion(done.resourceType, done.resourceId, done.version);
  if (!stored) throw new Error(`request log names ${done.resourceType}/${done.resourceId} version ${done.version}, which does not exist`);
  return stored;
}

/** Whether a failed commit may be a twin of this request (same X-Request-ID) having committed first. */
export function mayBeTwin(err: unknown): boolean {
  return err instanceof DuplicateRequestError || err instanceof VersionConflictError
    || (err instanceof FhirError && (err.status === 409 || err.spineCode === 'SCR_DISSENT'));
}
