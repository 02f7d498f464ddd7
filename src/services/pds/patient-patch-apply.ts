/**
 * Applying checked operations to a copy of the record, with PDS's answers (and its Python wording)
 * for a path that does not resolve or a `test` that fails. `test` compares against the record as the
 * caller was shown it, so a value read from PDS tests equal to what is stored.
 */
import type { Operation } from 'fast-json-patch';
import { FhirError } from '../../fhir/errors.js';
import { invalidPatch, segments } from './patient-patch-body.js';
import { pyRepr } from './patient-value-rules.js';

const pyClass = (v: unknown) =>
  v === null || v === undefined
    ? 'NoneType'
    : Array.isArray(v)
      ? 'list'
      : typeof v === 'object'
        ? 'dict'
        : typeof v === 'string'
          ? 'str'
          : typeof v === 'boolean'
            ? 'bool'
            : Number.isInteger(v)
              ? 'int'
              : 'float';

/** The older form of the published URLs records may still carry (a read shows the fhir.hl7.org.uk form). */
const publishedUrl = (v: unknown) =>
  typeof v === 'string'
    ? v.replace(
        /^https:\/\/fhir\.nhs\.uk\/R4\/(StructureDefinition|CodeSystem)\//,
        'https://fhir.hl7.org.uk/$1/',
      )
    : v;
const nonBlankLines = (v: unknown) =>
  Array.isArray(v) ? v.filter((l) => typeof l === 'string' && l.trim() !== '') : v;

/**
 * Equality for `test`, against the record as the caller was shown it: an absent or empty list equals []
 * (PDS holds no empty lists), blank address lines are not shown (emptyAddressLines features), and URLs
 * compare in their published form.
 */
function sameValue(a: unknown, b: unknown): boolean {
  const emptyList = (v: unknown) => v === undefined || (Array.isArray(v) && v.length === 0);
  if (Array.isArray(a) || Array.isArray(b)) {
    if (emptyList(a) && emptyList(b)) return true;
    return (
      Array.isArray(a) &&
      Array.isArray(b) &&
      a.length === b.length &&
      a.every((x, i) => sameValue(x, b[i]))
    );
  }
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)].filter((k) => k !== '_line'));
    return [...keys].every((k) =>
      k === 'line'
        ? sameValue(nonBlankLines((a as any)[k]), nonBlankLines((b as any)[k]))
        : sameValue((a as any)[k], (b as any)[k]),
    );
  }
  return a === b || (typeof a === 'string' && publishedUrl(a) === publishedUrl(b));
}

/** Applies one operation in place, with PDS's answers for a path that does not resolve or a failing test. */
export function applyOperation(doc: Record<string, any>, op: Operation): void {
  const segs = segments(op.path);
  const last = segs[segs.length - 1];
  const nonExistent = () =>
    invalidPatch(`can't ${op.op} non-existent object '${last.slice(0, 40)}'`);
  const value = (op as { value?: unknown }).value;
  let parent: any = doc;
  for (let s = 0; s < segs.length - 1; s++) {
    const key = segs[s];
    let next: any;
    if (Array.isArray(parent)) {
      if (!/^\d+$/.test(key) || Number(key) >= parent.length)
        throw invalidPatch(`index '${key.slice(0, 20)}' is out of bounds`);
      next = parent[Number(key)];
    } else if (parent && typeof parent === 'object') {
      next = Object.hasOwn(parent, key) ? parent[key] : undefined;
      // the spec: add to '/contact/-' or '/extension/-' on a record that has none yet
      if (next === undefined && op.op === 'add' && s === segs.length - 2 && last === '-')
        next = parent[key] = [];
    }
    if (next === undefined || next === null || typeof next !== 'object') {
      if (op.op === 'test' && sameValue(undefined, value)) return;
      throw nonExistent();
    }
    parent = next;
  }
  if (Array.isArray(parent)) {
    if (op.op === 'add' && last === '-') {
      parent.push(value);
      return;
    }
    const bound = op.op === 'add' ? parent.length + 1 : parent.length;
    if (!/^\d+$/.test(last) || Number(last) >= bound)
      throw invalidPatch(`index '${last.slice(0, 20)}' is out of bounds`);
    const n = Number(last);
    if (op.op === 'add') parent.splice(n, 0, value);
    else if (op.op === 'replace') parent[n] = value;
    else if (op.op === 'remove') parent.splice(n, 1);
    else if (!sameValue(parent[n], value)) throw testFailed(parent[n], value);
    return;
  }
  const present = Object.hasOwn(parent, last);
  if (op.op === 'add') parent[last] = value;
  else if (op.op === 'replace') {
    if (!present) throw nonExistent();
    parent[last] = value;
  } else if (op.op === 'remove') {
    if (!present) throw nonExistent();
    delete parent[last];
  } else if (!sameValue(present ? parent[last] : undefined, value))
    throw testFailed(present ? parent[last] : undefined, value);
}

function testFailed(actual: unknown, tested: unknown): FhirError {
  const d = `${pyRepr(actual)} (<class '${pyClass(actual)}'>) is not equal to tested value ${pyRepr(tested)} (<class '${pyClass(tested)}'>)`;
  return invalidPatch(d.length > 2000 ? d.slice(0, 2000) + '...' : d);
}
