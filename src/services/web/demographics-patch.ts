/**
 * The update form's values as a PDS patch (JSON Patch in PDS's `{"patches": [...]}` body), built
 * against the version of the record the form was built from: a change within a list item names the
 * item by a test of its id first, a removal is immediately preceded by a test of the item, new items
 * go at '-' without an id (PDS assigns ids and periods). Also the form's own checks, and PDS's
 * refusals mapped onto the form's fields.
 */
import { ODS_SYSTEM } from '../../fhir/identifiers.js';
import {
  addressFields,
  EDIT_FIELDS,
  editValuesOf,
  gpCode,
  homeAddress,
  pharmacyOf,
  telecomOf,
  type EditValues,
  type Json,
} from './demographics-model.js';
import type { FieldError } from './patient-search-form.js';
import { outcomeMessages } from './web-errors.js';

export interface PatchOp {
  op: 'add' | 'replace' | 'remove' | 'test';
  path: string;
  value?: unknown;
}

const PHARMACY_URL =
  'https://fhir.nhs.uk/R4/StructureDefinition/Extension-UKCore-NominatedPharmacy';

/** Where each value is entered (the error summary's links). */
export const FIELD_IDS: Record<keyof EditValues, string> = {
  line1: 'address-line-1',
  line2: 'address-line-2',
  town: 'address-town',
  postcode: 'address-postcode',
  phone: 'phone',
  email: 'email',
  gp: 'gp',
  pharmacy: 'pharmacy',
};

export function readEditForm(field: (name: string) => string | undefined): EditValues {
  const values = {} as EditValues;
  for (const key of EDIT_FIELDS) values[key] = field(FIELD_IDS[key])?.replace(/\s+/g, ' ') ?? '';
  values.postcode = values.postcode.toUpperCase();
  values.gp = values.gp.toUpperCase();
  values.pharmacy = values.pharmacy.toUpperCase();
  return values;
}

const at = (key: keyof EditValues, text: string): FieldError => ({
  text,
  href: `#${FIELD_IDS[key]}`,
});

/**
 * The form's own checks: what must be given together, and the formats PDS does not check itself
 * (a phone number, a pharmacy's ODS code). Everything else is PDS's to refuse.
 */
export function checkEdit(values: EditValues, base: Json): FieldError[] {
  const errors: FieldError[] = [];
  const before = editValuesOf(base);
  const addressKeys = ['line1', 'line2', 'town', 'postcode'] as const;
  // an address is checked when it is changed: one held as it is may be kept as it is
  if (addressKeys.some((k) => values[k] !== before[k])) {
    if (!values.line1)
      errors.push(at('line1', 'Enter address line 1, typically the building and street'));
    if (!values.town) errors.push(at('town', 'Enter the town or city'));
    if (!values.postcode) errors.push(at('postcode', 'Enter the postcode'));
  }
  if (values.phone) {
    const digits = values.phone.replace(/\D/g, '').length;
    if (!/^\+?[0-9 ()-]+$/.test(values.phone) || digits < 10 || digits > 15)
      errors.push(at('phone', 'Enter a phone number, like 01632 960 001 or +44 7700 900 982'));
  }
  if (!values.gp && gpCode(base))
    errors.push(
      at('gp', "Enter the GP practice's ODS code (a registration is ended by the new practice)"),
    );
  if (values.pharmacy && !/^[A-Z0-9]{3,10}$/.test(values.pharmacy))
    errors.push(
      at('pharmacy', "Enter the pharmacy's ODS code, 3 to 10 letters and numbers, like FA123"),
    );
  if (errors.length === 0 && buildPatch(base, values).length === 0)
    errors.push(at('line1', 'You have not changed anything: change a detail, or cancel'));
  return errors;
}

/** Ops on one list, applied in an order that keeps each index right: changes, removals, additions. */
class ListOps {
  readonly changes: PatchOp[] = [];
  readonly removals: { index: number; ops: PatchOp[] }[] = [];
  readonly additions: unknown[] = [];
  constructor(
    readonly root: string,
    readonly exists: boolean,
  ) {}

  all(): PatchOp[] {
    const removals = [...this.removals].sort((a, b) => b.index - a.index).flatMap((r) => r.ops);
    let exists = this.exists;
    const adds = this.additions.map((value): PatchOp => {
      const op: PatchOp = exists
        ? { op: 'add', path: `/${this.root}/-`, value }
        : { op: 'add', path: `/${this.root}`, value: [value] };
      exists = true;
      return op;
    });
    return [...this.changes, ...removals, ...adds];
  }

  remove(index: number, item: unknown): void {
    const path = `/${this.root}/${index}`;
    this.removals.push({
      index,
      ops: [
        { op: 'test', path, value: item },
        { op: 'remove', path },
      ],
    });
  }

  /** One member of an item changed: named by a test of its id, or the whole item replaced. */
  changeMember(index: number, item: Json, member: string, value: unknown): void {
    const path = `/${this.root}/${index}`;
    if (item.id === undefined)
      this.changes.push({ op: 'replace', path, value: { ...item, [member]: value } });
    else
      this.changes.push(
        { op: 'test', path: `${path}/id`, value: item.id },
        { op: item[member] === undefined ? 'add' : 'replace', path: `${path}/${member}`, value },
      );
  }
}

const hasList = (patient: Json, root: string) => Array.isArray(patient[root]);

function addressOps(base: Json, values: EditValues, before: EditValues): PatchOp[] {
  const changed = (['line1', 'line2', 'town', 'postcode'] as const).some(
    (k) => values[k] !== before[k],
  );
  const ops = new ListOps('address', hasList(base, 'address'));
  if (!changed || !values.line1) return [];
  const line = [values.line1, values.line2, values.town].filter(Boolean);
  const home = homeAddress(base);
  if (!home) {
    ops.additions.push({ use: 'home', line, postalCode: values.postcode });
    return ops.all();
  }
  const { index, address } = home;
  const path = `/address/${index}`;
  const next: PatchOp[] = [];
  if (address.id !== undefined) next.push({ op: 'test', path: `${path}/id`, value: address.id });
  else {
    const { city: _city, ...rest } = address;
    return [{ op: 'replace', path, value: { ...rest, line, postalCode: values.postcode } }];
  }
  const was = addressFields(address);
  if (was.line1 !== values.line1 || was.line2 !== values.line2 || was.town !== values.town)
    next.push({
      op: address.line === undefined ? 'add' : 'replace',
      path: `${path}/line`,
      value: line,
    });
  if (address.city !== undefined) next.push({ op: 'remove', path: `${path}/city` });
  if (was.postcode !== values.postcode)
    next.push({
      op: address.postalCode === undefined ? 'add' : 'replace',
      path: `${path}/postalCode`,
      value: values.postcode,
    });
  return next;
}

function telecomOps(base: Json, values: EditValues, before: EditValues): PatchOp[] {
  const ops = new ListOps('telecom', hasList(base, 'telecom'));
  for (const system of ['phone', 'email'] as const) {
    if (values[system] === before[system]) continue;
    const existing = telecomOf(base, system);
    if (!existing) ops.additions.push({ system, value: values[system], use: 'home' });
    else if (!values[system]) ops.remove(existing.index, existing.telecom);
    else ops.changeMember(existing.index, existing.telecom, 'value', values[system]);
  }
  return ops.all();
}

function gpOps(base: Json, values: EditValues, before: EditValues): PatchOp[] {
  if (values.gp === before.gp || !values.gp) return [];
  const today = new Date().toISOString().slice(0, 10);
  const gp = {
    type: 'Organization',
    identifier: { system: ODS_SYSTEM, value: values.gp, period: { start: today } },
  };
  const items: Json[] = Array.isArray(base.generalPractitioner) ? base.generalPractitioner : [];
  // PDS holds one registered practice: a new one replaces it (keeping the item's id)
  if (items.length > 0)
    return [{ op: 'replace', path: '/generalPractitioner/0', value: { id: items[0].id, ...gp } }];
  return [{ op: 'add', path: '/generalPractitioner', value: [gp] }];
}

function pharmacyOps(base: Json, values: EditValues, before: EditValues): PatchOp[] {
  if (values.pharmacy === before.pharmacy) return [];
  const ops = new ListOps('extension', hasList(base, 'extension'));
  const existing = pharmacyOf(base);
  const value = (url: string) => ({
    url,
    valueReference: { identifier: { system: ODS_SYSTEM, value: values.pharmacy } },
  });
  if (!existing) ops.additions.push(value(PHARMACY_URL));
  else if (!values.pharmacy) ops.remove(existing.index, existing.extension);
  else {
    const path = `/extension/${existing.index}`;
    ops.changes.push(
      { op: 'test', path, value: existing.extension },
      { op: 'replace', path, value: value(existing.extension.url) },
    );
  }
  return ops.all();
}

/** The patch that makes the record the form's values: nothing for a field left as it was. */
export function buildPatch(base: Json, values: EditValues): PatchOp[] {
  const before = editValuesOf(base);
  return [
    ...addressOps(base, values, before),
    ...telecomOps(base, values, before),
    ...gpOps(base, values, before),
    ...pharmacyOps(base, values, before),
  ];
}

const FRIENDLY: Record<keyof EditValues, string> = {
  line1: 'Check the address',
  line2: 'Check the address',
  town: 'Check the address',
  postcode: 'Enter a real postcode, like LS1 6AE',
  phone: 'Check the phone number',
  email: 'Enter an email address in the correct format, like name@example.com',
  gp: 'Enter the ODS code of a GP practice, like A81001',
  pharmacy: "Check the pharmacy's ODS code",
};

/** Which field a PDS diagnostic is about: by the element it names, a telecom by its value. */
function fieldOf(text: string, values: EditValues): keyof EditValues {
  if (/postalCode/.test(text)) return 'postcode';
  if (/address/.test(text)) return 'line1';
  if (/telecom/.test(text)) {
    const quoted = /'([^']*)'/.exec(text)?.[1];
    if (quoted !== undefined && quoted === values.phone) return 'phone';
    return quoted === values.email || /email/.test(text) ? 'email' : 'phone';
  }
  if (/generalPractitioner/.test(text)) return 'gp';
  if (/extension/.test(text)) return 'pharmacy';
  return 'line1';
}

/** PDS's refusal of the patch as the error summary: a plain message, then PDS's own words. */
export function pdsEditErrors(body: unknown, values: EditValues): FieldError[] {
  const { messages } = outcomeMessages(body);
  if (messages.length === 0)
    return [
      at('line1', 'The national register refused this change. Check the details and try again'),
    ];
  return messages.map((text) => {
    const key = fieldOf(text, values);
    return at(key, `${FRIENDLY[key]} (the national register said: ${text})`);
  });
}
