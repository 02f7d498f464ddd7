import type { Patient } from 'fhir/r4.js';
import type { Operation } from 'fast-json-patch';
import { randomBytes } from 'node:crypto';
import { FhirError } from '../../fhir/errors.js';
import {
  DEATH_NOTIFICATION_URL,
  hasFormalDeathNotice,
  isRestricted,
  today,
} from './patient-model.js';
import { PATIENT_ELEMENTS, pyRepr, validatePatient } from './patient-rules.js';

const SUPPORTED_OPS = new Set(['add', 'replace', 'remove', 'test']);
/** Top-level lists whose items carry a server-assigned id. */
const ID_LISTS = new Set(['name', 'address', 'telecom', 'contact', 'generalPractitioner']);
/** Lists whose new items get period.start = today when the caller gives no period. */
const PERIOD_LISTS = new Set(['name', 'address', 'telecom', 'contact']);
const IMMUTABLE = new Set(['resourceType', 'id', 'identifier', 'meta', 'link']);
/** Elements PDS never lets a caller remove. */
const NOT_REMOVABLE = new Set(['gender']);
/** What a restricted record hides; a user who cannot see it cannot change it either. */
const HIDDEN_WHEN_RESTRICTED = new Set(['address', 'telecom', 'contact', 'generalPractitioner']);

/**
 * What a patient (NHS login, P9) may change in their own record, per the published PATCH
 * specification ("Patient access", specification/components/paths/patient-patch.yaml): address,
 * communication (language and interpreter), emergency contact, pharmacy, place of birth, and telecom
 * (mobile and email only). Communication, pharmacy, place of birth and telecom go as whole objects.
 */
const PATIENT_ROOTS = new Set(['address', 'contact', 'telecom', 'extension']);
/**
 * Extensions a patient may change, by the end of their URL (records carry the fhir.nhs.uk/R4 and
 * the fhir.hl7.org.uk forms).
 */
const PATIENT_EXTENSIONS = [
  '/Extension-UKCore-NHSCommunication',
  '/Extension-UKCore-NominatedPharmacy',
  '/Extension-UKCore-DispensingDoctor',
  '/Extension-UKCore-MedicalApplianceSupplier',
  '/StructureDefinition/patient-birthPlace',
];

const invalidUpdate = (why: string) =>
  new FhirError(400, 'INVALID_UPDATE', `Invalid update with error - ${why}`);
const invalidPatch = (why: string) => invalidUpdate(`Invalid patch - ${why}`);

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

function segments(path: string): string[] {
  return path
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

const isEmail = (t: { system?: string } | undefined) => t?.system === 'email';
const isMobile = (t: { use?: string; system?: string } | undefined) =>
  t?.use === 'mobile' || t?.system === 'sms';

/** The patient-access limits: which operations a patient may make on their own record. */
function checkPatientAccess(current: Patient, ops: Operation[]): void {
  const refuse = () =>
    invalidUpdate(
      'This user does not have permission to update the fields in the patches provided.',
    );
  for (const op of ops) {
    if (op.op === 'test') continue;
    const [root, index, ...rest] = segments(op.path);
    if (!PATIENT_ROOTS.has(root)) throw refuse();
    if (root === 'telecom' || root === 'extension') {
      if (index === undefined || rest.length > 0) throw refuse(); // whole objects only
      const existing = index === '-' ? undefined : (current as any)[root]?.[Number(index)];
      const value = (op as { value?: any }).value;
      const allowed =
        root === 'telecom'
          ? (t: any) => isEmail(t) || isMobile(t)
          : (e: any) =>
              typeof e?.url === 'string' &&
              PATIENT_EXTENSIONS.some((suffix) => e.url.endsWith(suffix));
      if (existing !== undefined && !allowed(existing)) throw refuse();
      if (op.op !== 'remove' && !allowed(value)) throw refuse();
    }
  }
}

/** PDS's business rules on the operations themselves, before any is applied. */
function checkOperations(current: Patient, ops: Operation[]): void {
  const list = (root: string): unknown[] | undefined =>
    Array.isArray((current as any)[root]) ? (current as any)[root] : undefined;
  ops.forEach((op, i) => {
    const [root, index, ...rest] = segments(op.path);
    if (!PATIENT_ELEMENTS.has(root))
      throw new FhirError(
        400,
        'INVALID_UPDATE',
        `Invalid update with error - Update unsupported for resource - '${root.slice(0, 60)}'`,
      );
    if (IMMUTABLE.has(root) && op.op !== 'test')
      throw new FhirError(
        403,
        'FORBIDDEN_UPDATE',
        `Forbidden update with error - '${root}' cannot be changed`,
      );
    if (isRestricted(current) && HIDDEN_WHEN_RESTRICTED.has(root) && op.op !== 'test') {
      throw new FhirError(
        403,
        'FORBIDDEN_UPDATE',
        `Forbidden update with error - '${root}' of a restricted record cannot be updated`,
      );
    }
    if (op.op === 'remove' && index === undefined && root === 'birthDate')
      throw new FhirError(
        403,
        'FORBIDDEN_UPDATE',
        "Forbidden update with error - source not permitted to remove 'birthDate'",
      );
    if (op.op === 'remove' && index === undefined && NOT_REMOVABLE.has(root))
      throw invalidUpdate(`'${root}' cannot be removed`);
    if (op.op === 'add' && ID_LISTS.has(root) && index !== undefined && rest.length === 0) {
      if (index !== '-')
        throw invalidUpdate(`a new '${root}' item must be added with '/${root}/-'`);
      if ((op.value as { id?: unknown })?.id !== undefined)
        throw invalidUpdate(`a new '${root}' item must not carry an id; the server assigns it`);
    }
    if (
      op.op === 'add' &&
      root === 'name' &&
      index === '-' &&
      (op.value as { use?: unknown })?.use === 'usual' &&
      (current.name ?? []).some(
        (n) => n.use === 'usual' && (!n.period?.end || n.period.end >= today()),
      )
    ) {
      throw new FhirError(
        403,
        'FORBIDDEN_UPDATE',
        'Forbidden update with error - multiple usual names cannot be added',
      );
    }
    if (
      op.op === 'add' &&
      index !== undefined &&
      rest.length > 0 &&
      rest[rest.length - 1] === '-' &&
      ID_LISTS.has(root)
    ) {
      throw invalidUpdate(
        `use an index, not '-', to add within '${root}/${index}' and include the item's id`,
      );
    }
    // a change within a list item names the item: a test, replace or add of its id comes first (patient-patch.yaml)
    if (
      ID_LISTS.has(root) &&
      index !== undefined &&
      index !== '-' &&
      rest.length > 0 &&
      op.op !== 'test'
    ) {
      const idPath = `/${root}/${index}/id`;
      const named =
        op.path === idPath || ops.slice(0, i).some((o) => o.path === idPath && o.op !== 'remove');
      if (!named) throw invalidUpdate(`no id or url found for path with root /${root}/${index}`);
    }
    if (
      (op.op === 'replace' || op.op === 'add') &&
      ID_LISTS.has(root) &&
      rest.length === 1 &&
      rest[0] === 'id'
    ) {
      const items = list(root);
      if (!items || !/^\d+$/.test(index) || Number(index) >= items.length)
        throw invalidPatch(`index '${index}' is out of bounds`);
      const existing = (items[Number(index)] as { id?: unknown })?.id;
      if (existing !== op.value)
        throw invalidUpdate(
          `no '${root}' resources with object id '${String(op.value).slice(0, 40)}'`,
        );
    }
    if (op.op === 'replace' && ID_LISTS.has(root) && index !== undefined && rest.length === 0) {
      // a whole-item replacement names the item it replaces by its id
      const existing = (list(root)?.[Number(index)] as { id?: unknown } | undefined)?.id;
      if (existing !== undefined && (op.value as { id?: unknown } | null)?.id !== existing)
        throw invalidUpdate(`the replacement of '${root}/${index}' must carry that item's id`);
    }
    if (op.op === 'remove' && index !== undefined && rest.length === 0 && list(root)) {
      const prev = ops[i - 1];
      const guarded =
        prev?.op === 'test' && (prev.path === op.path || prev.path.startsWith(op.path + '/'));
      if (!guarded) {
        const instead = prev ? `the '${prev.op}' of '${prev.path}'` : 'the first item';
        throw invalidUpdate(
          `removal '${op.path}' is not immediately preceded by equivalent test - instead it is ${instead}`,
        );
      }
      const item = list(root)![Number(index)] as
        { use?: string; period?: { end?: string } } | undefined;
      // a usual name that has ended is history, and may go; the current one may not (replace.feature)
      if (
        root === 'name' &&
        item?.use === 'usual' &&
        (!item.period?.end || item.period.end >= today())
      )
        throw new FhirError(
          403,
          'FORBIDDEN_UPDATE',
          'Forbidden update with error - not permitted to remove usual name',
        );
    }
    if (
      (root === 'deceasedDateTime' ||
        (root === 'extension' &&
          JSON.stringify((op as { value?: unknown }).value ?? '').includes(
            'DeathNotificationStatus',
          ))) &&
      op.op !== 'test' &&
      hasFormalDeathNotice(current)
    ) {
      throw new FhirError(
        403,
        'FORBIDDEN_UPDATE',
        'Forbidden update with error - the date of death is set by a formal death notice and cannot be changed',
      );
    }
  });
}

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
function applyOperation(doc: Record<string, any>, op: Operation): void {
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

export interface PatchOptions {
  /** The caller is the patient (NHS login, P9): only the fields of the published patient-access limits. */
  patientAccess?: boolean;
}

/**
 * Applies a PDS patch atomically: every operation is checked, applied to a copy, and the result
 * must still be a valid Patient in what the patch changed; any failure leaves the stored record untouched.
 */
export function applyPatientPatch(
  current: Patient,
  ops: Operation[],
  options: PatchOptions = {},
): Patient {
  if (options.patientAccess) checkPatientAccess(current, ops);
  checkOperations(current, ops);
  const patched = structuredClone(current) as Patient;
  for (const op of ops) {
    try {
      applyOperation(patched as unknown as Record<string, any>, op);
    } catch (err) {
      if (err instanceof FhirError) throw err;
      throw invalidPatch(
        `patch could not be applied (${String((err as Error).message ?? 'invalid path')
          .split('\n')[0]
          .slice(0, 120)})`,
      );
    }
  }
  completeNewItems(current, patched);
  // a date of death given without an offset is UTC, and is held with it
  if (
    typeof patched.deceasedDateTime === 'string' &&
    /T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(patched.deceasedDateTime)
  )
    patched.deceasedDateTime += '+00:00';
  validatePatient(patched, { before: current });
  const deathStatus = patched.extension?.find((e) => e.url === DEATH_NOTIFICATION_URL);
  const statusCode = deathStatus?.extension?.find((e) => e.url === 'deathNotificationStatus')
    ?.valueCodeableConcept?.coding?.[0]?.code;
  if (statusCode === 'U')
    throw new FhirError(
      400,
      'UNSUPPORTED_VALUE',
      "Unsupported value - death notification status 'U' (removed) can no longer be set",
    );
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
          coding: [
            {
              system: 'https://fhir.nhs.uk/R4/CodeSystem/UKCore-DeathNotificationStatus',
              version: '1.0.0',
              code: '1',
              display:
                'Informal - death notice received via an update from a local NHS Organisation such as GP or Trust',
            },
          ],
        },
      },
      { url: 'systemEffectiveDate', valueDateTime: new Date().toISOString() },
    ],
  };
}
