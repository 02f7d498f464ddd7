/**
 * Bounds on the shape of a JSON body, checked on the text before it is parsed, so that no service
 * ever sees a document it could not walk.
 *
 * Depth: FHIR resources nest about a dozen levels (the deepest of the 72 published PDS, SCR and EPS
 * examples in test/fixtures nests 10 arrays and objects: a Bundle's entry's resource's extension's
 * extension's valueCodeableConcept's coding). 64 is ample for every API here, and keeps the
 * platform's recursive walkers (text checks, patch application, clones, digests) far from the stack
 * limit, which a body nested a couple of thousand deep reaches (that was a 500).
 *
 * Elements (each array or object, plus each comma-separated member): bounded so a body cannot make
 * parsing allocate far beyond its size. `[{},{},...]` costs about 65 bytes of heap per 3 bytes of
 * JSON (measured on Node 20): 1 MiB of it is ~22 MB of objects, 16 MiB ~360 MB. The published
 * examples average 24 bytes of compact JSON per element, so a realistic body at the 1 MiB default
 * limit has ~45,000; the limit is 100,000 per MiB of the route's body limit (GP2GP $send, 16 MiB,
 * gets 1.6 million), which caps the heap a body can cost at ~7 MB per MiB.
 */
export const JSON_MAX_DEPTH = 64;
export const JSON_MAX_ELEMENTS_PER_MIB = 100_000;

const MIB = 1024 * 1024;

/** The element limit for a route accepting bodies of up to `bodyLimit` bytes. */
export function jsonElementLimit(bodyLimit: number): number {
  return JSON_MAX_ELEMENTS_PER_MIB * Math.max(1, Math.ceil(bodyLimit / MIB));
}

export type JsonShapeProblem = 'depth' | 'elements';

/**
 * One linear pass over JSON text: 'depth' when arrays and objects nest deeper than maxDepth,
 * 'elements' when there are more than maxElements elements, else null. String contents are skipped
 * with indexOf (native speed), so the cost is mostly in the structural characters; malformed text
 * is left for JSON.parse to report.
 */
export function jsonShapeProblem(
  text: string,
  maxDepth = JSON_MAX_DEPTH,
  maxElements = JSON_MAX_ELEMENTS_PER_MIB,
): JsonShapeProblem | null {
  let depth = 0;
  let elements = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      // '"': jump to the closing quote, one not escaped by an odd run of backslashes
      let j = i;
      for (;;) {
        j = text.indexOf('"', j + 1);
        if (j < 0) return null;
        let k = j - 1;
        while (text.charCodeAt(k) === 92) k--;
        if ((j - 1 - k) % 2 === 0) break;
      }
      i = j;
    } else if (c === 123 || c === 91) {
      // '{' '['
      if (++depth > maxDepth) return 'depth';
      if (++elements > maxElements) return 'elements';
    } else if (c === 125 || c === 93) {
      // '}' ']'
      depth--;
    } else if (c === 44) {
      // ','
      if (++elements > maxElements) return 'elements';
    }
  }
  return null;
}

/** What the caller is told when a body is refused for its shape. */
export function jsonShapeDiagnostics(problem: JsonShapeProblem, maxElements: number): string {
  return problem === 'depth'
    ? `Request body is nested more than ${JSON_MAX_DEPTH} levels deep`
    : `Request body has more than ${maxElements} elements`;
}

const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;
const ESCAPE = /\\(?:u([0-9a-fA-F]{4})|[^])/g;

/**
 * True when JSON text escapes a lone UTF-16 surrogate ("\ud800" not followed by a low half, or a
 * low half alone): JSON.parse accepts it, but it is not Unicode text. PostgreSQL refuses it in json
 * (an audit entry holding one stopped the audit index for good), so like NUL it is refused before
 * anything is parsed. Bodies arrive as UTF-8, so only \u escapes can carry one; the exact walk over
 * the escapes runs only when a surrogate escape appears at all (escaped emoji are valid pairs).
 */
export function hasLoneSurrogate(text: string): boolean {
  if (!SURROGATE_ESCAPE.test(text)) return false;
  let pendingHigh = false;
  let end = -1; // where the last escape ended: a low half must start exactly there
  ESCAPE.lastIndex = 0;
  for (let m = ESCAPE.exec(text); m !== null; m = ESCAPE.exec(text)) {
    const unit = m[1] === undefined ? -1 : parseInt(m[1], 16);
    const high = unit >= 0xd800 && unit <= 0xdbff;
    const low = unit >= 0xdc00 && unit <= 0xdfff;
    if (pendingHigh && !(low && m.index === end)) return true;
    if (low && !pendingHigh) return true;
    pendingHigh = high;
    end = ESCAPE.lastIndex;
  }
  return pendingHigh;
}
