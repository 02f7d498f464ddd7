/**
 * What the patient's own pages (my-record-pages.ts) make of the platform's answers: their contact
 * details and nominated pharmacy as PDS holds them, the JSON Patch that changes them within PDS's
 * patient-access limits, their SCR and opt-out choices from the Consent list, and their access log
 * rows from the patient view of the audit trail. No calls here but the directory name lookup.
 */
import { API } from './api-paths.js';
import { roleCan } from './navigation.js';
import type { PageTools } from './web-page.js';

type Json = Record<string, any>;
type PatchOp = { op: 'add' | 'replace' | 'remove' | 'test'; path: string; value?: unknown };

const ODS_SYSTEM = 'https://fhir.nhs.uk/Id/ods-organization-code';
export const NOMINATED_PHARMACY_URL =
  'https://fhir.nhs.uk/R4/StructureDefinition/Extension-UKCore-NominatedPharmacy';
const isPharmacy = (e: Json | undefined) =>
  typeof e?.url === 'string' && e.url.endsWith('/Extension-UKCore-NominatedPharmacy');

const today = () => new Date().toISOString().slice(0, 10);
const isCurrent = (t: Json) => !t?.period?.end || String(t.period.end).slice(0, 10) >= today();
const isMobile = (t: Json) => t?.use === 'mobile' || t?.system === 'sms';
const isEmail = (t: Json) => t?.system === 'email';

/** The signed-in patient's own NHS Number: the only record these pages ever name. */
export function ownNhsNumber(tools: PageTools): string {
  const nhs = tools.user.nhsNumber ?? tools.user.userId;
  if (!/^\d{10}$/.test(nhs)) throw new Error('the signed-in patient has no NHS Number');
  return nhs;
}

/** The contact details a patient may change themselves (PDS patient access: mobile and email). */
export interface ContactDetails {
  mobile: string;
  email: string;
}

function telecomIndex(patient: Json, which: (t: Json) => boolean): number {
  const list: Json[] = Array.isArray(patient.telecom) ? patient.telecom : [];
  return list.findIndex((t) => isCurrent(t) && which(t));
}

export function contactDetailsOf(patient: Json): ContactDetails {
  const value = (which: (t: Json) => boolean) => {
    const i = telecomIndex(patient, which);
    return i < 0 ? '' : String(patient.telecom[i].value ?? '');
  };
  return { mobile: value(isMobile), email: value(isEmail) };
}

/** Current telecoms the patient cannot change here (home or work phones): shown, not edited. */
export function otherTelecoms(patient: Json): { label: string; value: string }[] {
  const list: Json[] = Array.isArray(patient.telecom) ? patient.telecom : [];
  return list
    .filter((t) => isCurrent(t) && !isMobile(t) && !isEmail(t) && typeof t.value === 'string')
    .map((t) => ({
      label: `${t.use ? `${String(t.use)[0].toUpperCase()}${String(t.use).slice(1)} ` : ''}${
        t.system === 'phone' ? 'phone' : String(t.system ?? 'contact')
      }`,
      value: t.value,
    }));
}

/** The form's mobile number as PDS holds it (no spaces), or an error message. */
export function checkMobile(raw: string | undefined): { value: string } | { error: string } {
  if (!raw) return { value: '' };
  const value = raw.replace(/[\s()-]/g, '');
  if (!/^(?:\+44|0)7\d{9}$/.test(value))
    return { error: 'Enter a UK mobile phone number, like 07700 900 982 or +44 7700 900 982' };
  return { value };
}

export function checkEmail(raw: string | undefined): { value: string } | { error: string } {
  if (!raw) return { value: '' };
  if (raw.length > 254 || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(raw))
    return { error: 'Enter an email address in the correct format, like name@example.com' };
  return { value: raw };
}

/**
 * The JSON Patch that makes the record's mobile and email the wanted ones, within PDS's
 * patient-access rules: whole telecom objects only, a replacement carries the item's id, a removal
 * follows a test naming the item, a new item goes to the end. Empty when nothing changes.
 */
export function contactPatch(patient: Json, wanted: ContactDetails): PatchOp[] {
  const replaces: PatchOp[] = [];
  const removes: { index: number; ops: PatchOp[] }[] = [];
  const adds: PatchOp[] = [];
  const change = (
    which: (t: Json) => boolean,
    value: string,
    item: (v: string, existing?: Json) => Json,
  ) => {
    const i = telecomIndex(patient, which);
    const existing: Json | undefined = i < 0 ? undefined : patient.telecom[i];
    if ((existing?.value ?? '') === value) return;
    if (existing && !value)
      removes.push({
        index: i,
        ops: [
          { op: 'test', path: `/telecom/${i}/id`, value: existing.id },
          { op: 'remove', path: `/telecom/${i}` },
        ],
      });
    else if (existing)
      replaces.push({
        op: 'replace',
        path: `/telecom/${i}`,
        value: { ...item(value, existing), id: existing.id },
      });
    else adds.push({ op: 'add', path: '/telecom/-', value: item(value) });
  };
  const since = { period: { start: today() } };
  change(isMobile, wanted.mobile, (value) => ({ system: 'phone', use: 'mobile', value, ...since }));
  change(isEmail, wanted.email, (value, existing) => ({
    system: 'email',
    use: existing?.use ?? 'home',
    value,
    ...since,
  }));
  // removals from the highest index down, so each index still names its item
  removes.sort((a, b) => b.index - a.index);
  return [...replaces, ...removes.flatMap((r) => r.ops), ...adds];
}

/** The nominated pharmacy's ODS code, and where its extension sits in the record. */
export function nominatedPharmacyOf(patient: Json): { odsCode: string; index: number } | null {
  const list: Json[] = Array.isArray(patient.extension) ? patient.extension : [];
  const index = list.findIndex(isPharmacy);
  if (index < 0) return null;
  const code = list[index].valueReference?.identifier?.value;
  return { odsCode: typeof code === 'string' ? code : '', index };
}

export function checkOdsCode(raw: string | undefined): { value: string } | { error: string } {
  if (!raw) return { error: "Enter the pharmacy's ODS code, like FA123" };
  const value = raw.toUpperCase().replace(/\s/g, '');
  if (!/^[A-Z0-9]{3,10}$/.test(value))
    return { error: 'An ODS code is 3 to 10 letters and numbers, like FA123' };
  return { value };
}

/**
 * The patch that nominates the pharmacy (or, with null, removes the nomination). A change to the
 * existing extension first tests its url, so a record whose extensions have moved is refused.
 */
export function pharmacyPatch(patient: Json, odsCode: string | null): PatchOp[] {
  const current = nominatedPharmacyOf(patient);
  if (!odsCode) {
    if (!current) return [];
    const path = `/extension/${current.index}`;
    return [
      { op: 'test', path: `${path}/url`, value: patient.extension[current.index].url },
      { op: 'remove', path },
    ];
  }
  if (current?.odsCode === odsCode) return [];
  const value = {
    url: current ? patient.extension[current.index].url : NOMINATED_PHARMACY_URL,
    valueReference: { identifier: { system: ODS_SYSTEM, value: odsCode } },
  };
  if (!current) return [{ op: 'add', path: '/extension/-', value }];
  const path = `/extension/${current.index}`;
  return [
    { op: 'test', path: `${path}/url`, value: value.url },
    { op: 'replace', path, value },
  ];
}

/** The registered GP practice's ODS code, when the record has one. */
export function gpPracticeOf(patient: Json): string | undefined {
  const list: Json[] = Array.isArray(patient.generalPractitioner)
    ? patient.generalPractitioner
    : [];
  const gp = list.find((g) => !g?.identifier?.period?.end) ?? list[0];
  const code = gp?.identifier?.value;
  return typeof code === 'string' ? code : undefined;
}

/**
 * An organisation's name from the directory, where the signed-in role may read it (staff roles
 * may; a patient's may not, so patients see the ODS code); undefined when it cannot be found.
 */
export async function organisationName(
  tools: PageTools,
  odsCode: string | undefined,
): Promise<string | undefined> {
  if (!odsCode || !/^[A-Z0-9]{3,10}$/i.test(odsCode) || !roleCan(tools.user, 'directory.read'))
    return undefined;
  const res = await tools.call({ url: `${API.directory}/Organization/${odsCode}` });
  return res.status === 200 && typeof res.body?.name === 'string' ? res.body.name : undefined;
}

export type ScrChoice = 'scr-core' | 'scr-additional' | 'scr-dissent';
export const SCR_CHOICES: readonly ScrChoice[] = ['scr-core', 'scr-additional', 'scr-dissent'];

/** The choices in force, from the patient's Consent list (no Consent: core SCR, not opted out). */
export function choicesOf(bundle: Json): { scr: ScrChoice; optedOut: boolean; since: Json } {
  const active: Json[] = (Array.isArray(bundle?.entry) ? bundle.entry : [])
    .map((e: Json) => e.resource)
    .filter((c: Json) => c?.resourceType === 'Consent' && c.status === 'active');
  const codeOf = (c: Json) => String(c.policyRule?.coding?.[0]?.code ?? '');
  const scr = active.find((c) => codeOf(c).startsWith('scr-'));
  const optOut = active.find((c) => codeOf(c).startsWith('national-data-opt-out'));
  return {
    scr:
      scr && SCR_CHOICES.includes(codeOf(scr) as ScrChoice)
        ? (codeOf(scr) as ScrChoice)
        : 'scr-core',
    optedOut: optOut ? codeOf(optOut) === 'national-data-opt-out' : false,
    since: { scr: scr?.dateTime, optOut: optOut?.dateTime },
  };
}

/** A Consent recording one choice of the patient's own, as the SCR consent API takes it. */
export function consentBody(nhsNumber: string, code: string): Json {
  return {
    resourceType: 'Consent',
    status: 'active',
    scope: {
      coding: [
        { system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' },
      ],
    },
    patient: { identifier: { system: 'https://fhir.nhs.uk/Id/nhs-number', value: nhsNumber } },
    policyRule: {
      coding: [{ system: 'https://openspine.dev/CodeSystem/scr-consent-choice', code }],
    },
  };
}

/** One row of "who has looked at my record". */
export interface AccessRow {
  when: string;
  who: string;
  role: string;
  organisation: string;
  what: string;
  emergency: boolean;
  refused: boolean;
}

const VERBS: Record<string, string> = {
  R: 'Viewed',
  U: 'Changed',
  C: 'Created',
  D: 'Deleted',
  E: 'Used or searched',
};

/** The patient view of AuditEvents as rows a person reads: when, who, what. */
export function accessRows(bundle: Json, ownNhs: string): AccessRow[] {
  const entries: Json[] = Array.isArray(bundle?.entry) ? bundle.entry : [];
  return entries
    .map((e) => e.resource)
    .filter((r: Json) => r?.resourceType === 'AuditEvent')
    .map((r: Json) => {
      const person: Json = r.agent?.[0] ?? {};
      const org: Json | undefined = r.agent?.find((a: Json) => a?.requestor === false);
      const self = person.type?.text === 'patient' && person.who?.identifier?.value === ownNhs;
      const type = String(r.type?.code ?? '');
      const activity = String(r.subtype?.[0]?.display ?? r.subtype?.[0]?.code ?? '');
      const emergency = type === 'emergency-access';
      const what = emergency
        ? `Emergency access to your record${activity ? ` (${activity})` : ''}`
        : type === 'self-claimed-relationship'
          ? `Looked at your record, saying they care for you${activity ? ` (${activity})` : ''}`
          : `${VERBS[String(r.action)] ?? 'Used'}: ${activity || 'your record'}`;
      return {
        when: String(r.recorded ?? ''),
        who: self
          ? 'You'
          : String(person.who?.display ?? person.who?.identifier?.value ?? 'Not known'),
        role: self ? '' : String(person.role?.[0]?.text ?? ''),
        organisation: String(org?.who?.identifier?.value ?? ''),
        what,
        emergency,
        refused: String(r.outcome ?? '0') !== '0',
      };
    });
}

/** The cursor of the next page, from the bundle's next link (seq.snapshot), if there is one. */
export function nextCursor(bundle: Json): string | undefined {
  const next = (Array.isArray(bundle?.link) ? bundle.link : []).find(
    (l: Json) => l?.relation === 'next',
  );
  if (!next?.url) return undefined;
  const cursor = new URL(String(next.url), 'http://x').searchParams.get('_cursor') ?? '';
  return /^\d+\.\d+$/.test(cursor) ? cursor : undefined;
}
