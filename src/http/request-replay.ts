/**
 * The identity of a write request for X-Request-ID replay: its method, path and a digest of
 * everything that decides what it does (fingerprintRequest, set on ctx by the FHIR-conventions hook).
 * A retry is recognised by this fingerprint; what a write does with it (replay, commit with the
 * request record, answer a racing twin) is the services' one write path, src/services/write-once.ts.
 */
import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { RequestFingerprint } from '../context.js';
import { canonicalJson } from '../fhir/canonical-json.js';

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
    hash.update('\njson\n').update(canonicalJson(body), 'utf8');
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
