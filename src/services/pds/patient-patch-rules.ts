/**
 * PDS's rules on the operations of a patch, checked against the stored record before any is applied:
 * what may be changed at all, what a patient may change in their own record, how list items are
 * named, and what a restricted record or a formal death notice protects. Apart from applying them
 * (patient-patch-apply.ts): these are PDS's business rules, that is JSON Patch mechanics.
 */
import type { Patient } from 'fhir/r4.js';
import type { Operation } from 'fast-json-patch';
import { FhirError } from '../../fhir/errors.js';
import { hasFormalDeathNotice, isRestricted, today } from './patient-model.js';
import { invalidPatch, invalidUpdate, segments } from './patient-patch-body.js';
import { PATIENT_ELEMENTS } from './patient-rules.js';

/** Top-level lists whose items carry a server-assigned id. */
export const ID_LISTS = new Set(['name', 'address', 'telecom', 'contact', 'generalPractitioner']);
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

const isEmail = (t: { system?: string } | undefined) => t?.system === 'email';
const isMobile = (t: { use?: string; system?: string } | undefined) =>
  t?.use === 'mobile' || t?.system === 'sms';

/** The patient-access limits: which operations a patient may make on their own record. */
export function checkPatientAccess(current: Patient, ops: Operation[]): void {
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
export function checkOperations(current: Patient, ops: Operation[]): void {
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
