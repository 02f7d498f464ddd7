/**
 * Reading a PATCH body: the PDS `{"patches": [...]}` wrapper or a bare RFC 6902 array, each operation's
 * shape, and the JSON Pointer paths the later steps split. Only the form is checked here; what an
 * operation may do to a record is patient-patch-rules.ts's business.
 */
import type { Operation } from 'fast-json-patch';
import { FhirError } from '../../fhir/errors.js';

const SUPPORTED_OPS = new Set(['add', 'replace', 'remove', 'test']);

export const invalidUpdate = (why: string) =>
  new FhirError(400, 'INVALID_UPDATE', `Invalid update with error - ${why}`);
export const invalidPatch = (why: string) => invalidUpdate(`Invalid patch - ${why}`);

/** Accepts the PDS body `{"patches": [...]}` or a bare RFC 6902 array; checks each operation's shape. */
export function parsePatchBody(body: unknown): Operation[] {
  const ops = Array.isArray(body)
    ? body
    : body && typeof body === 'object'
      ? (body as { patches?: unknown }).patches
      : undefined;
  if (ops === undefined || (Array.isArray(ops) && ops.length === 0))
    throw invalidUpdate('No patches found');
  if (!Array.isArray(ops))
    throw invalidUpdate('the body must be {"patches": [...]} or a JSON Patch array');
  if (ops.length > 100) throw invalidUpdate('too many patch operations (at most 100)');
  return ops.map((op, i) => {
    if (!op || typeof op !== 'object' || Array.isArray(op))
      throw invalidUpdate(`patch ${i} is not an object`);
    const { op: kind, path } = op as { op?: unknown; path?: unknown };
    if (typeof kind !== 'string') throw invalidUpdate(`patch ${i}: 'op' is missing`);
    // published: {"op":"bad_value"} is "Invalid value - 'bad_value' in field '0/op'" (requestErrors.feature)
    if (!SUPPORTED_OPS.has(kind))
      throw new FhirError(
        400,
        'INVALID_VALUE',
        `Invalid value - '${kind.slice(0, 20)}' in field '${i}/op'`,
      );
    if (typeof path !== 'string' || !path.startsWith('/'))
      throw invalidUpdate(`patch ${i}: 'path' must be a JSON Pointer`);
    const hasValue = Object.hasOwn(op, 'value');
    if (kind === 'remove' && hasValue) throw invalidUpdate(`patch ${i}: remove takes no value`);
    if (kind !== 'remove' && !hasValue) throw invalidUpdate(`patch ${i}: ${kind} needs a value`);
    for (const key of Object.keys(op))
      if (!['op', 'path', 'value'].includes(key))
        throw invalidUpdate(`patch ${i}: unexpected member '${key.slice(0, 30)}'`);
    return op as Operation;
  });
}

/** The unescaped segments of a JSON Pointer. */
export function segments(path: string): string[] {
  return path
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}
