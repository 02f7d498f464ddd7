/**
 * X-Request-ID replay, for every service that writes: the one place that decides whether a write
 * request is new, a retry of one already applied (answered as the first was, not applied again), or
 * a reuse of its X-Request-ID for a different request (400 INVALID_VALUE, nothing written).
 *
 * A write commits with a RequestRecord (requestRecord below) naming the caller, the request's
 * method, path and digest, and the resource version it produced; the store refuses a second record
 * under one X-Request-ID (DuplicateRequestError), so of two racing copies one commits and the other
 * finds the first one's record (commitOnce). Paths and digests come from the HTTP request itself
 * (fingerprintRequest, set on ctx by the FHIR-conventions hook), never from what a service says it is.
 */
import { createHash, type Hash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { FhirError } from '../fhir/errors.js';
import {
  DuplicateRequestError,
  VersionConflictError,
  type Repository,
  type RequestRecord,
  type StoredResource,
} from '../store/types.js';
import type { RequestContext, RequestFingerprint } from '../context.js';

/** What identifies a write request for replay: method, path, and a digest of everything that decides what it does. */

/**
 * Headers that change what a write does. X-Request-ID, Authorization (the caller is compared
 * apart, as the user), X-Correlation-ID and transport headers do not: a retry may differ in them.
 */
const DIGESTED_HEADERS = ['content-type', 'if-match', 'if-none-match', 'if-none-exist'] as const;
const DIGEST_VERSION = 'openspine-request-digest/1';

/**
 * The request digest: sha256 over a canonical form of the method, path, query string, the
 * DIGESTED_HEADERS (Content-Type lower-cased without spaces, the others trimmed) and the body.
 *
 * A JSON body is hashed as its parsed value in canonical JSON (object keys sorted, no whitespace),
 * not as the raw bytes: the service acts on the parsed value, so two bodies that parse alike ask
 * for the same change and a retry whose client re-serialised the body (other key order, other
 * spacing) is still recognised as the same request. A byte body (Buffer) or text body is hashed as
 * its bytes. A body of any other kind (a stream a route consumes itself) cannot be digested, and
 * routes taking one do not use replay.
 */
export function requestDigest(
  request: Pick<FastifyRequest, 'method' | 'url' | 'headers' | 'body'>,
): string {
  const [path, query = ''] = splitUrl(request.url);
  const headers: Record<string, string> = {};
  for (const name of DIGESTED_HEADERS) {
    const raw = request.headers[name];
    if (raw === undefined) continue;
    const value = Array.isArray(raw) ? raw.join(',') : String(raw);
    headers[name] =
      name === 'content-type' ? value.toLowerCase().replace(/\s+/g, '') : value.trim();
  }
  const hash = createHash('sha256');
  hash.update(JSON.stringify([DIGEST_VERSION, request.method.toUpperCase(), path, query, headers]));
  const body = request.body;
  if (body === undefined) {
    hash.update('\nnone\n');
  } else if (Buffer.isBuffer(body)) {
    hash.update('\nbytes\n').update(body);
  } else if (typeof body === 'string') {
    hash.update('\ntext\n').update(body, 'utf8');
  } else if (isJsonValue(body)) {
    hash.update('\njson\n');
    canonicalJson(body, hash);
  } else {
    throw new Error('request body of this kind cannot be digested for X-Request-ID replay');
  }
  return hash.digest('hex');
}

/** The fingerprint of a Fastify request, computed on first use (it reads the parsed body) and kept. */
export function fingerprintRequest(request: FastifyRequest): () => RequestFingerprint {
  let computed: RequestFingerprint | undefined;
  return () =>
    (computed ??= {
      method: request.method.toUpperCase(),
      path: splitUrl(request.url)[0],
      digest: requestDigest(request),
    });
}

function splitUrl(url: string): [string, string?] {
  const q = url.indexOf('?');
  return q < 0 ? [url] : [url.slice(0, q), url.slice(q + 1)];
}

function isJsonValue(v: unknown): boolean {
  if (typeof v !== 'object' || v === null)
    return ['number', 'boolean'].includes(typeof v) || v === null;
  if (Array.isArray(v)) return true;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * Writes the canonical JSON of a parsed JSON value into the hash: object keys sorted (by UTF-16
 * code units), no whitespace, primitives as JSON.stringify writes them. Iterative, so a deeply
 * nested body (which JSON.parse accepts) cannot exhaust the stack.
 */
export function canonicalJson(value: unknown, hash: Pick<Hash, 'update'>): void {
  const stack: ({ v: unknown } | string)[] = [{ v: value }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    if (typeof item === 'string') {
      hash.update(item);
      continue;
    }
    const v = item.v;
    if (v === null || typeof v !== 'object') {
      hash.update(JSON.stringify(v) ?? 'null');
    } else if (Array.isArray(v)) {
      hash.update('[');
      stack.push(']');
      for (let i = v.length - 1; i >= 0; i--) {
        stack.push({ v: v[i] });
        if (i > 0) stack.push(',');
      }
    } else {
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o)
        .filter((k) => o[k] !== undefined)
        .sort();
      hash.update('{');
      stack.push('}');
      for (let i = keys.length - 1; i >= 0; i--) {
        stack.push({ v: o[keys[i]] });
        stack.push(JSON.stringify(keys[i]) + ':');
        if (i > 0) stack.push(',');
      }
    }
  }
}

/** What a recorded write answered: its status and the resource version it produced. */
export interface RecordedAnswer {
  status: number;
  resourceType: string;
  resourceId: string;
  version: number;
}

/** An earlier request with this X-Request-ID, found to be this very request: its record and the resource version it produced. */
export interface EarlierAnswer {
  record: RequestRecord;
  stored: StoredResource;
}

const userOf = (ctx: RequestContext) => ctx.principal?.userId ?? 'anonymous';

/**
 * The request record a write commits with, or undefined outside an HTTP request (a service called
 * by a consumer, a sweep or the CLI has no client to retry, and no fingerprint).
 */
export function requestRecord(
  ctx: RequestContext,
  answer: RecordedAnswer,
): RequestRecord | undefined {
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
export async function earlierAnswer(
  repo: Repository,
  ctx: RequestContext,
): Promise<EarlierAnswer | null> {
  if (!ctx.fingerprint) return null;
  const done = await repo.readRequest(ctx.requestId);
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
  const stored = await repo.readVersion(done.resourceType, done.resourceId, done.version);
  if (!stored)
    throw new Error(
      `request log names ${done.resourceType}/${done.resourceId} version ${done.version}, which does not exist`,
    );
  return { record: done, stored };
}

/**
 * Whether a failed commit may be a twin of this request (same X-Request-ID) having committed
 * first: its request record, or its change to the same resource, refuses ours. Services that turn a
 * version conflict into their own 409 (or, for SCR, a dissent recorded meanwhile) are covered too.
 */
export function mayBeTwin(err: unknown): boolean {
  return (
    err instanceof DuplicateRequestError ||
    err instanceof VersionConflictError ||
    (err instanceof FhirError && (err.status === 409 || err.spineCode === 'SCR_DISSENT'))
  );
}

/**
 * Runs a service's commit; when it fails as a twin that committed first would make it fail, and
 * this request's X-Request-ID is now recorded, answers as that twin did (or refuses, if the id was
 * taken by a different request). Any other failure is rethrown as it is.
 */
export async function commitOnce<T>(
  repo: Repository,
  ctx: RequestContext,
  commit: () => Promise<T>,
  answer: (earlier: EarlierAnswer) => T | Promise<T>,
): Promise<T> {
  try {
    return await commit();
  } catch (err) {
    if (!mayBeTwin(err)) throw err;
    const earlier = await earlierAnswer(repo, ctx);
    if (!earlier) throw err;
    return answer(earlier);
  }
}
