import { resourceType, type ResourceStore } from '../store/resource-store.js';
import type { Patient } from 'fhir/r4.js';
import {
  labelledRestricted,
  PHARMACY_EXTENSIONS,
  withholdLocation,
} from '../fhir/location-data.js';
import { isValidNhsNumber } from '../fhir/nhs-number.js';
import { NHS_NUMBER_SYSTEM, ODS_SYSTEM } from '../fhir/identifiers.js';

/**
 * The platform rule that a restricted (sensitive) patient's location data (address, telecom,
 * contacts, GP and pharmacies) never leaves the platform. Every outgoing representation passes
 * `release`: HTTP responses (src/http/location-release-hook.ts), notification deliveries, bulk
 * export files and extracts. Services need not remember the rule; whatever they send is checked.
 *
 * How: the NHS Numbers a representation mentions anywhere (identifiers, references, URLs, text)
 * are looked up in PDS, whose record alone says whether a patient is restricted. For each
 * restricted patient, (1) every Patient resource about them loses its location elements and every
 * RelatedPerson about them its address and telecom; (2) anything else that carries one of their
 * location values is withheld: an Address or ContactPoint holding one is dropped, a reference to or
 * resource of their GP or pharmacy is masked, and any remaining text containing one is replaced.
 * A representation that mentions no restricted patient passes untouched and unparsed.
 */

const PATIENT = resourceType<Patient>('Patient');
/** The FHIR way to say a value exists but is not shown. */
const MASKED = {
  url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason',
  valueCode: 'masked',
};
const REDACTED_LABEL = {
  system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue',
  code: 'REDACTED',
  display: 'redacted',
};
export const WITHHELD = 'withheld';
const CONTACT_SYSTEMS = new Set(['phone', 'fax', 'email', 'pager', 'url', 'sms', 'other']);
/** Ten digits standing alone: a possible NHS Number (checked by its modulus-11 digit before any look-up). */
const TEN_DIGITS = /(?<!\d)\d{10}(?!\d)/g;
/** A PDS record that labels itself restricted or very restricted (its label is authoritative). */
const RESTRICTED_LABEL = /"code"\s*:\s*"(R|V)"/;

/**
 * Where the Patient resources of a representation come from. 'pds-current': they are PDS's own
 * current records, whose labels decide (no look-up needed for them). 'any' (the default): they may
 * be copies or old versions, so PDS is asked about every patient mentioned. 'echo': the
 * representation restates the caller's own message (EPS $prepare returns the message to sign, which
 * must come back unchanged): what the caller sent may come back, nothing else of theirs may. Only
 * for a route whose answer is computed from its request alone, or it would confirm a caller's guesses.
 */
export type PatientSource = 'pds-current' | 'any' | 'echo';

/** What the platform knows of the request a representation answers. */
export interface ReleaseContext {
  /** The caller's own message, for 'echo' (a function: it is serialised only when a restricted patient is found). */
  request?: () => string;
  /**
   * The patients the request named (path, query or body) or read (a referral's, by its UBRN),
   * looked up even if the body never names them.
   */
  about?: string | readonly string[];
}

/** The location values of one restricted patient, normalised for matching. */
interface LocationValues {
  postcodes: Set<string>;
  lines: Set<string>;
  phones: Set<string>;
  emails: Set<string>;
  ods: Set<string>;
}

type Json = unknown;
type JsonObject = Record<string, Json>;
const isObject = (v: Json): v is JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const postcodeKey = (s: string) => s.replace(/\s+/g, '').toUpperCase();
const lineKey = (s: string) => s.trim().replace(/\s+/g, ' ').toLowerCase();
/** The last nine digits identify a UK number whether written nationally (0113…) or internationally (+44 113…). */
const phoneKey = (s: string) => s.replace(/\D/g, '').slice(-9);

export class LocationRelease {
  constructor(private readonly repo: Pick<ResourceStore, 'readMany'>) {}

  /**
   * Cheap, synchronous: false when the text certainly mentions no restricted patient (it can then
   * leave as it is). `about` is the patient (or patients) the request named or read, when any.
   */
  mayNeedRelease(
    json: string,
    source: PatientSource = 'any',
    about?: string | readonly string[],
  ): boolean {
    return source === 'pds-current'
      ? RESTRICTED_LABEL.test(json)
      : [about ?? []].flat().length > 0 || candidates(json).length > 0;
  }

  /**
   * A JSON text as it may leave: the same text when it mentions no restricted patient, else the
   * text of the representation with their location data withheld.
   */
  async releaseText(
    json: string,
    source: PatientSource = 'any',
    context: ReleaseContext = {},
  ): Promise<string> {
    const [out] = await this.releaseTexts([json], source, context);
    return out;
  }

  /** Several JSON texts (NDJSON lines, a page of an export) with one look-up for all of them. */
  async releaseTexts(
    texts: string[],
    source: PatientSource = 'any',
    { request, about }: ReleaseContext = {},
  ): Promise<string[]> {
    if (source === 'pds-current') {
      // the record's own label decides, with no look-up; only a restricted-looking text is parsed
      return texts.map((t) =>
        RESTRICTED_LABEL.test(t)
          ? JSON.stringify(redact(JSON.parse(t), new Map(), { labelsDecide: true }))
          : t,
      );
    }
    // the patient the request named counts even where the body never says their number (a flattened view)
    const named = [about ?? []].flat().filter(isValidNhsNumber);
    const mentioned = texts.map(candidates); // each text scanned once
    const restricted = await this.restrictedIn([...named, ...mentioned.flat()]);
    if (restricted.size === 0) return texts;
    const options =
      source === 'echo'
        ? { labelsDecide: false, echoOf: request?.() ?? '' }
        : { labelsDecide: false };
    const namesOne = named.some((n) => restricted.has(n));
    return texts.map((t, i) =>
      namesOne || mentioned[i].some((n) => restricted.has(n))
        ? JSON.stringify(redact(JSON.parse(t), restricted, options))
        : t,
    );
  }

  /**
   * The restricted patients among these NHS Numbers, with their location values (a merged number
   * counts its survivor's).
   */
  private async restrictedIn(numbers: string[]): Promise<Map<string, LocationValues>> {
    const out = new Map<string, LocationValues>();
    const wanted = [...new Set(numbers)];
    if (wanted.length === 0) return out;
    const records = new Map<string, Patient>();
    for (let i = 0; i < wanted.length; i += 500) {
      for (const s of await this.repo.readMany(PATIENT, wanted.slice(i, i + 500)))
        records.set(s.id, s.resource);
    }
    const survivors = new Map<string, string>();
    for (const [nhs, p] of records) {
      const next = p.link?.find((l) => l.type === 'replaced-by')?.other?.identifier?.value;
      if (next && !records.has(next)) survivors.set(nhs, next);
    }
    if (survivors.size)
      for (const s of await this.repo.readMany(PATIENT, [...new Set(survivors.values())]))
        records.set(s.id, s.resource);
    for (const nhs of wanted) {
      const own = records.get(nhs);
      const survivor = survivors.has(nhs) ? records.get(survivors.get(nhs)!) : undefined;
      if ([own, survivor].some((p) => p && labelledRestricted(p)))
        out.set(nhs, locationValuesOf([own, survivor].filter((p): p is Patient => !!p)));
    }
    return out;
  }
}

/**
 * A document about one patient drawn by the platform itself (a printed letter, a PDF), as it may
 * leave: when their PDS record (already at hand) is restricted, every text in it carrying one of
 * their location values is withheld, by the same rule as a JSON answer. The HTTP release hook
 * cannot read a PDF, so a document is released before it is drawn. `doc` is plain JSON data.
 */
export function releaseForPatient<T>(doc: T, patient: Patient | undefined): T {
  if (!patient || !labelledRestricted(patient)) return doc;
  const nhs = patientNumber(patient as unknown as JsonObject) ?? '';
  const values = new Map([[nhs, locationValuesOf([patient])]]);
  return redact(doc, values, { labelsDecide: false }) as T;
}

/** Valid NHS Numbers appearing anywhere in a JSON text. */
function candidates(text: string): string[] {
  const found = text.match(TEN_DIGITS);
  return found ? found.filter(isValidNhsNumber) : [];
}

function locationValuesOf(patients: Patient[]): LocationValues {
  const v: LocationValues = {
    postcodes: new Set(),
    lines: new Set(),
    phones: new Set(),
    emails: new Set(),
    ods: new Set(),
  };
  const addAddress = (a: { postalCode?: string; line?: string[] } | undefined) => {
    if (a?.postalCode && postcodeKey(a.postalCode).length >= 5)
      v.postcodes.add(postcodeKey(a.postalCode));
    // short lines ('Flat 2', a town) are too common to match in free text without masking clinical words
    for (const l of a?.line ?? [])
      if (typeof l === 'string' && lineKey(l).length >= 6) v.lines.add(lineKey(l));
  };
  const addTelecom = (t: { system?: string; value?: string } | undefined) => {
    if (!t?.value) return;
    if (t.system === 'email' || t.value.includes('@')) v.emails.add(t.value.trim().toLowerCase());
    else if (phoneKey(t.value).length === 9) v.phones.add(phoneKey(t.value));
  };
  const addOds = (ref: { identifier?: { value?: string }; reference?: string } | undefined) => {
    const code = ref?.identifier?.value ?? ref?.reference?.split('/').pop();
    if (code && code.length >= 3) v.ods.add(code.toUpperCase());
  };
  for (const p of patients) {
    p.address?.forEach(addAddress);
    p.telecom?.forEach(addTelecom);
    p.generalPractitioner?.forEach(addOds);
    for (const c of p.contact ?? []) {
      addAddress(c.address);
      c.telecom?.forEach(addTelecom);
    }
    for (const e of p.extension ?? []) if (PHARMACY_EXTENSIONS.has(e.url)) addOds(e.valueReference);
  }
  return v;
}

/** The NHS Number a Patient resource is about (its identifier, else an id that is one). */
function patientNumber(p: JsonObject): string | undefined {
  const ids = Array.isArray(p.identifier) ? p.identifier : [];
  const id = ids.find(
    (i): i is JsonObject =>
      isObject(i) && i.system === NHS_NUMBER_SYSTEM && typeof i.value === 'string',
  );
  if (id) return id.value as string;
  return typeof p.id === 'string' && isValidNhsNumber(p.id) ? p.id : undefined;
}

function referencedNumber(ref: Json): string | undefined {
  if (!isObject(ref)) return undefined;
  const id =
    isObject(ref.identifier) && typeof ref.identifier.value === 'string'
      ? ref.identifier.value
      : undefined;
  return (
    id ??
    (typeof ref.reference === 'string'
      ? /(?:^|\/)Patient\/(\d{10})$/.exec(ref.reference)?.[1]
      : undefined)
  );
}

interface RedactOptions {
  /** A Patient resource is judged by its own label (a PDS current record). */
  labelsDecide: boolean;
  /**
   * The caller's own message, restated by the representation: its values may come back, and its
   * Patients are its own.
   */
  echoOf?: string;
}

/** The representation with the location data of the given restricted patients withheld. */
function redact(
  root: Json,
  restricted: Map<string, LocationValues>,
  { labelsDecide, echoOf }: RedactOptions,
): Json {
  // every location value of every restricted patient mentioned: anything carrying one is withheld.
  // PDS's own current records hold location data only in their Patients' elements, so there the
  // labels alone decide, and an unrestricted neighbour sharing a practice keeps it.
  const all: LocationValues = {
    postcodes: new Set(),
    lines: new Set(),
    phones: new Set(),
    emails: new Set(),
    ods: new Set(),
  };
  if (!labelsDecide)
    for (const v of restricted.values())
      for (const k of Object.keys(all) as (keyof LocationValues)[])
        v[k].forEach((x) => all[k].add(x));
  if (echoOf !== undefined) forgetEchoed(all, echoOf);

  const isRestrictedPatient = (p: JsonObject) => {
    if (echoOf !== undefined) return false; // the caller's own Patient: the values sweep below still applies
    const nhs = patientNumber(p);
    return (labelsDecide && labelledRestricted(p)) || (nhs !== undefined && restricted.has(nhs));
  };
  const odsToken = all.ods.size
    ? new RegExp(`(?<![A-Z0-9])(${[...all.ods].map(escapeRegExp).join('|')})(?![A-Z0-9])`, 'i')
    : null;
  const lineToken = all.lines.size
    ? new RegExp(`(?<![a-z0-9])(${[...all.lines].map(escapeRegExp).join('|')})(?![a-z0-9])`)
    : null;
  const textCarries = (s: string): boolean => {
    if (odsToken?.test(s)) return true;
    const compact = postcodeKey(s);
    for (const pc of all.postcodes) if (compact.includes(pc)) return true;
    const digits = s.replace(/\D/g, '');
    if (digits.length >= 9) for (const ph of all.phones) if (digits.includes(ph)) return true;
    const lower = s.toLowerCase();
    for (const e of all.emails) if (lower.includes(e)) return true;
    return lineToken?.test(lineKey(s)) ?? false;
  };
  const isOdsIdentifier = (i: Json) =>
    isObject(i) &&
    i.system === ODS_SYSTEM &&
    typeof i.value === 'string' &&
    all.ods.has(i.value.toUpperCase());
  const carriesLocation = (o: JsonObject): boolean => {
    if (typeof o.postalCode === 'string' && all.postcodes.has(postcodeKey(o.postalCode)))
      return true;
    if (
      Array.isArray(o.line) &&
      o.line.some((l) => typeof l === 'string' && all.lines.has(lineKey(l)))
    )
      return true;
    if (
      typeof o.system === 'string' &&
      CONTACT_SYSTEMS.has(o.system) &&
      typeof o.value === 'string' &&
      textCarries(o.value)
    )
      return true;
    return false;
  };

  const DROP = Symbol('drop');
  const visit = (value: Json, key: string | undefined): Json | typeof DROP => {
    if (typeof value === 'string')
      return key !== 'resourceType' && textCarries(value) ? WITHHELD : value;
    if (Array.isArray(value)) {
      const out = value.map((v) => visit(v, key)).filter((v) => v !== DROP);
      return out.length || value.length === 0 ? out : DROP; // emptied by withholding: FHIR has no empty arrays
    }
    if (!isObject(value)) return value;
    let o = value;
    if (o.resourceType === PATIENT && isRestrictedPatient(o)) o = withholdLocation(o);
    if (o.resourceType === 'RelatedPerson' && restricted.has(referencedNumber(o.patient) ?? '')) {
      const { address: _a, telecom: _t, ...rest } = o;
      o = rest;
    }
    if (
      typeof o.resourceType === 'string' &&
      o.resourceType !== PATIENT &&
      ((Array.isArray(o.identifier) && o.identifier.some(isOdsIdentifier)) ||
        (typeof o.id === 'string' && all.ods.has(o.id.toUpperCase())))
    ) {
      // the GP's or pharmacy's own resource: kept as a stub so references to it still resolve
      return {
        resourceType: o.resourceType,
        id: typeof o.id === 'string' && !textCarries(o.id) ? o.id : WITHHELD,
        meta: { security: [REDACTED_LABEL] },
      };
    }
    if (o.resourceType === undefined) {
      if (carriesLocation(o)) return DROP;
      const refTarget =
        typeof o.reference === 'string' ? o.reference.split('/').pop()!.toUpperCase() : undefined;
      if (isOdsIdentifier(o.identifier) || (refTarget && all.ods.has(refTarget)))
        return { extension: [MASKED] };
    }
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(o)) {
      const next = visit(v, k);
      if (next !== DROP) out[k] = next;
    }
    return out;
  };
  const result = visit(root, undefined);
  return result === DROP ? {} : result;
}

/** Drops the values the caller's own message carries: restating them tells the caller nothing. */
function forgetEchoed(all: LocationValues, echo: string): void {
  const compact = postcodeKey(echo),
    digits = echo.replace(/\D/g, ''),
    lower = echo.toLowerCase(),
    upper = echo.toUpperCase();
  for (const pc of all.postcodes) if (compact.includes(pc)) all.postcodes.delete(pc);
  for (const l of all.lines) if (lower.includes(l)) all.lines.delete(l);
  for (const ph of all.phones) if (digits.includes(ph)) all.phones.delete(ph);
  for (const e of all.emails) if (lower.includes(e)) all.emails.delete(e);
  for (const o of all.ods) if (upper.includes(o)) all.ods.delete(o);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
