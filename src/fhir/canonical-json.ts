/**
 * Canonical JSON: object keys sorted (by UTF-16 code units) at every level, members whose value is
 * undefined left out, no whitespace, primitives as JSON.stringify writes them. One text for one
 * content, so two documents that parse alike compare and digest alike: the X-Request-ID request
 * digest, the digest a prescriber signs, the directory's change detection and backup manifests.
 *
 * Recursive with string appends, the fastest form measured (an EPS message of 12.5 KB: 76 µs,
 * against 111 µs with an explicit stack and 330 µs with a hash update per token). A value nested
 * deeper than RECURSION_DEPTH (FHIR bodies are refused beyond 64 levels, json-limits.ts; a digest
 * may still be asked of anything) is finished with an explicit stack, so it cannot exhaust the stack.
 */
const RECURSION_DEPTH = 256;

export function canonicalJson(value: unknown): string {
  return write(value, 0);
}

function write(value: unknown, depth: number): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (depth >= RECURSION_DEPTH) return writeDeep(value);
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + write(value[i], depth + 1);
    return out + ']';
  }
  const object = value as Record<string, unknown>;
  let out = '{';
  let first = true;
  for (const key of Object.keys(object).sort()) {
    const v = object[key];
    if (v === undefined) continue;
    out += (first ? '' : ',') + JSON.stringify(key) + ':' + write(v, depth + 1);
    first = false;
  }
  return out + '}';
}

/** The same text, with an explicit stack instead of recursion. */
function writeDeep(value: unknown): string {
  const parts: string[] = [];
  const stack: ({ v: unknown } | string)[] = [{ v: value }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    if (typeof item === 'string') {
      parts.push(item);
      continue;
    }
    const v = item.v;
    if (v === null || typeof v !== 'object') {
      parts.push(JSON.stringify(v) ?? 'null');
    } else if (Array.isArray(v)) {
      parts.push('[');
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
      parts.push('{');
      stack.push('}');
      for (let i = keys.length - 1; i >= 0; i--) {
        stack.push({ v: o[keys[i]] });
        stack.push(JSON.stringify(keys[i]) + ':');
        if (i > 0) stack.push(',');
      }
    }
  }
  return parts.join('');
}
