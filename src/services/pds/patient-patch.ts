import type { Patient } from 'fhir/r4.js';
import jsonpatch, { type Operation } from 'fast-json-patch';
import { randomBytes } from 'node:crypto';
import { FhirError } from '../../fhir/errors.js';
import { DEATH_NOTIFICATION_URL, hasFormalDeathNotice, isRestricted, today } from './patient-model.js';
import { PATIENT_ELEMENTS, validatePatient } from './patient-rules.js';

const SUPPORTED_OPS = new Set(['add', 'replace', 'remove', 'test']);
/** Top-level lists whose items carry a server-assigned id. */
const ID_LISTS = new Set(['name', 'address', 'telecom', 'contact', 'generalPractitioner']);
/** Lists whose new items get period.start = today when the caller gives no period. */
const PERIOD_LISTS = new Set(['name', 'address', 'telecom', 'contact']);
const IMMUTABLE = new Set(['resourceType', 'id', 'identifier', 'meta', 'link']);
/** Elements PDS never lets a caller remove. */
const NOT_REMOVABLE = new Set(['gender', 'birthDate']);
/** What a restricted record hides; a user who cannot see it cannot change it either. */
const HIDDEN_WHEN_RESTRICTED = new Set(['address', 'telecom', 'contact', 'generalPractitioner']);

const invalidUpdate = (why: string) => new FhirError(400, 'INVALID_UPDATE', `Invalid update with error - ${why}`);

/** Accepts the PDS body `{"patches": [...]}` or a bare RFC 6902 array; checks each operation's shape. */
export function parsePatchBody(body: unknown): Operation[] {
  const ops = Array.isArray(body) ? body : body && typeof body === 'object' ? (body as { patches?: unknown }).patches : undefined;
  if (!Array.isArray(ops)) throw invalidUpdate("the body must be {\"patches\": [...]} or a JSON Patch array");
  if (ops.length === 0) throw invalidUpdate('no patches supplied');
  if (ops.length > 100) throw invalidUpdate('too many patch operations (at most 100)');
  return ops.map((op, i) => {
    if (!op || typeof op !== 'object' || Array.isArray(op)) throw invalidUpdate(`patch ${i} is not an object`);
    const { op: kind, path } = op as { op?: unknown; path?: unknown };
    if (typeof kind !== 'string' || !SUPPORTED_OPS.has(kind)) throw invalidUpdate(`patch ${i}: unsupported op '${String(kind).slice(0, 20)}'; use add, replace, remove or test`);
    if (typeof path !== 'string' || !path.startsWith('/')) throw invalidUpdate(`patch ${i}: 'path' must be a JSON Pointer`);
    const hasValue = Object.hasOwn(op, 'value');
    if (kind === 'remove' && hasValue) throw invalidUpdate(`patch ${i}: remove takes no value`);
    if (kind !== 'remove' && !hasValue) throw invalidUpdate(`patch ${i}: ${kind} needs a value`);
    for (const key of Object.keys(op)) if (!['op', 'path', 'value'].includes(key)) throw invalidUpdate(`patch ${i}: unexpected member '${key.slice(0, 30)}'`);
    return op as Operation;
  });
}

function segments(path: string): string[] {
  return path.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** PDS's business rules on the operations themselves, before any is applied. */
function checkOperations(current: Patient, ops: Operation[]): void {
  ops.forEach((op, i) => {
    const [root, index, ...rest] = segments(op.path);
    if (!PATIENT_ELEMENTS.has(root)) throw new FhirError(400, 'INVALID_UPDATE', `Invalid update with error - Update unsupported for resource - '${root.slice(0, 60)}'`);
    if (IMMUTABLE.has(root) && op.op !== 'test') throw new FhirError(403, 'FORBIDDEN_UPDATE', `Forbidden update with error - '${root}' cannot be changed`);
    if (isRestricted(current) && HIDDEN_WHEN_RESTRICTED.has(root) && op.op !== 'test') {
      throw new FhirError(403, 'FORBIDDEN_UPDATE', `Forbidden update with error - '${root}' of a restricted record cannot be updated`);
    }
    if (op.op === 'remove' && index === undefined && NOT_REMOVABLE.has(root)) throw invalidUpdate(`'${root}' cannot be removed`);
    if (op.op === 'add' && ID_LISTS.has(root) && index !== undefined && rest.length === 0) {
      if (index !== '-') throw invalidUpdate(`a new '${root}' item must be added with '/${root}/-'`);
      if ((op.value as { id?: unknown })?.id !== undefined) throw invalidUpdate(`a new '${root}' item must not carry an id; the server assigns it`);
    }
    if (op.op === 'add' && index !== undefined && rest.length > 0 && rest[rest.length - 1] === '-' && ID_LISTS.has(root)) {
      throw invalidUpdate(`use an index, not '-', to add within '${root}/${index}' and include the item's id`);
    }
    if (op.op === 'replace' && ID_LISTS.has(root) && rest.length === 1 && rest[0] === 'id') {
      const existing = (current as any)[root]?.[Number(index)]?.id;
      if (existing !== op.value) throw invalidUpdate(`'${root}/${index}/id' does not match the item at that position`);
    }
    if (op.op === 'replace' && ID_LISTS.has(root) && index !== undefined && rest.length === 0) {
      // a whole-item replacement names the item it replaces by its id
      const existing = (current as any)[root]?.[Number(index)]?.id;
      if (existing !== undefined && (op.value as { id?: unknown } | null)?.id !== existing) throw invalidUpdate(`the replacement of '${root}/${index}' must carry that item's id`);
    }
    if (op.op === 'remove' && index !== undefined && rest.length === 0 && Array.isArray((current as any)[root])) {
      const prev = ops[i - 1];
      const guarded = prev?.op === 'test' && (prev.path === op.path || prev.path.startsWith(op.path + '/'));
      if (!guarded) throw invalidUpdate(`removing '${op.path}' needs a test of that item's id immediately before it`);
    }
    if ((root === 'deceasedDateTime' || (root === 'extension' && JSON.stringify((op as { value?: unknown }).value ?? '').includes('DeathNotificationStatus'))) && op.op !== 'test' && hasFormalDeathNotice(current)) {
      throw new FhirError(403, 'FORBIDDEN_UPDATE', 'Forbidden update with error - the date of death is set by a formal death notice and cannot be changed');
    }
  });
}

const newId = () => randomBytes(4).toString('hex').toUpperCase();

/** Gives new list items the ids and default periods PDS assigns. */
function completeNewItems(before: Patient, after: Patient): void {
  for (const list of ID_LISTS) {
    const known = new Set(((before as any)[list] ?? []).map((item: { id?: string }) => item.id));
    for (const item of (after as any)[list] ?? []) {
      if (!item || typeof item !== 'object') continue;
      if (item.id === undefined || !known.has(item.id)) {
        if (item.id === undefined) item.id = newId();
        if (PERIOD_LISTS.has(list) && item.period === undefined) item.period = { start: today() };
      }
    }
  }
}

/**
 * Applies a PDS patch atomically: every operation is checked, applied to a copy, and the result
 * must still be a valid Patient; any failure leaves the stored record untouched.
 */
export function applyPatientPatch(current: Patient, ops: Operation[]): Patient {
  checkOperations(current, ops);
  let patched: Patient;
  try {
    patched = jsonpatch.applyPatch(jsonpatch.deepClone(current), ops, true, false).newDocument as Patient;
  } catch (err) {
    const e = err as { name?: string; message?: string; index?: number };
    if (e.name === 'TEST_OPERATION_FAILED' || String(e.message).includes('Test operation failed')) throw invalidUpdate(`test operation ${e.index ?? ''} failed`.trim());
    throw invalidUpdate(`patch could not be applied (${String(e.message ?? 'invalid path').split('\n')[0].slice(0, 120)})`);
  }
  completeNewItems(current, patched);
  validatePatient(patched);
  const deathStatus = patched.extension?.find((e) => e.url === DEATH_NOTIFICATION_URL);
  const statusCode = deathStatus?.extension?.find((e) => e.url === 'deathNotificationStatus')?.valueCodeableConcept?.coding?.[0]?.code;
  if (statusCode === 'U') throw new FhirError(400, 'UNSUPPORTED_VALUE', "Unsupported value - death notification status 'U' (removed) can no longer be set");
  if (patched.deceasedDateTime && !deathStatus) {
    // a death reported by a local system (GP, trust) is an informal notice until the registrar confirms it
    patched.extension = [...(patched.extension ?? []), informalDeathNotice()];
  }
  return patched;
}

function informalDeathNotice() {
  return {
    url: DEATH_NOTIFICATION_URL,
    extension: [
      {
        url: 'deathNotificationStatus',
        valueCodeableConcept: {
          coding: [{
            system: 'https://fhir.nhs.uk/R4/CodeSystem/UKCore-DeathNotificationStatus', version: '1.0.0', code: '1',
            display: 'Informal - death notice received via an update from a local NHS Organisation such as GP or Trust',
          }],
        },
      },
      { url: 'systemEffectiveDate', valueDateTime: new Date().toISOString() },
    ],
  };
}
