/**
 * Support for the published EPS dispensing examples (test/fixtures/eps/published/dispensing/,
 * copied from NHSDigital/electronic-prescription-service-api, see SOURCES.md there).
 *
 * Each example is about a prescription NHS England made up. It is first created through OpenSpine
 * (prepare, sign, send, for a fresh patient nominating the example's pharmacy), then the
 * published message is submitted with the published ids (short-form ID, long-form ID, item ids,
 * NHS Number) replaced consistently by the created prescription's, everything else as published.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import type { EpsPlatform } from '../../helpers/eps-platform.js';
import type { EpsResponse, Prescribed } from '../../helpers/eps-client.js';
import {
  addPatient,
  orderBundle,
  orderIds,
  signDigest,
  withSignature,
  type OrderOptions,
} from '../../helpers/eps-prescribing.js';

export const DIR = new URL('../../fixtures/eps/published/dispensing/', import.meta.url);
const ORDER_NUMBER = 'https://fhir.nhs.uk/Id/prescription-order-number';
const PRESCRIPTION_ID = 'https://fhir.nhs.uk/Id/prescription';
const ITEM = 'https://fhir.nhs.uk/Id/prescription-order-item-number';
const NHS = 'https://fhir.nhs.uk/Id/nhs-number';
const ODS = 'https://fhir.nhs.uk/Id/ods-organization-code';

export const files = (): string[] =>
  readdirSync(DIR)
    .filter((f) => f.endsWith('.json'))
    .sort();
export const load = (file: string): any => JSON.parse(readFileSync(new URL(file, DIR), 'utf8'));
/** The repository path of a local copy. */
export const repoPath = (file: string): string => 'examples/' + file.replaceAll('__', '/');
/** The example folder a file counts under. */
export const folderOf = (file: string): string => repoPath(file).split('/').slice(0, -1).join('/');

function walk(x: unknown, visit: (o: any) => void): void {
  if (Array.isArray(x)) for (const v of x) walk(v, visit);
  else if (x && typeof x === 'object') {
    visit(x);
    for (const v of Object.values(x)) walk(v, visit);
  }
}

/**
 * The published ids a message carries: short-form IDs, long-form IDs, item ids (in order of first
 * appearance), NHS Numbers.
 */
export function publishedIds(msg: unknown): {
  shortForms: string[];
  longForms: string[];
  items: string[];
  nhs: string[];
} {
  const out = {
    shortForms: new Set<string>(),
    longForms: new Set<string>(),
    items: new Set<string>(),
    nhs: new Set<string>(),
  };
  walk(msg, (o) => {
    if (typeof o.value !== 'string') return;
    if (o.system === ORDER_NUMBER) out.shortForms.add(o.value);
    if (o.system === PRESCRIPTION_ID) out.longForms.add(o.value.toLowerCase());
    if (o.system === ITEM) out.items.add(o.value.toLowerCase());
    if (o.system === NHS) out.nhs.add(o.value);
  });
  return {
    shortForms: [...out.shortForms],
    longForms: [...out.longForms],
    items: [...out.items],
    nhs: [...out.nhs],
  };
}

/**
 * The dispensing pharmacy an example speaks for (release owner, notification sender, Task owner,
 * claim's organisation).
 */
export function pharmacyOf(msg: any): string | undefined {
  if (msg.resourceType === 'Parameters') {
    const owner = msg.parameter?.find((p: any) => p.name === 'owner')?.resource;
    return owner?.identifier?.find((i: any) => i.system === ODS)?.value ?? owner?.identifier?.value;
  }
  if (msg.resourceType === 'Bundle') return msg.entry?.[0]?.resource?.sender?.identifier?.value;
  if (msg.resourceType === 'Task')
    return (
      msg.owner?.identifier?.value ??
      msg.contained?.find((c: any) => c.resourceType === 'Organization')?.identifier?.[0]?.value
    );
  if (msg.resourceType === 'Claim')
    return msg.contained?.find((c: any) => c.resourceType === 'Organization')?.identifier?.[0]
      ?.value;
  return undefined;
}

export type Kind = 'release' | 'dispense' | 'amend' | 'claim' | 'return' | 'withdraw';

export function kindOf(file: string, msg: any): Kind | undefined {
  if (/DispenseAmend/.test(file)) return 'amend';
  if (msg.resourceType === 'Claim') return 'claim';
  if (msg.resourceType === 'Parameters' && /release|Release/.test(file)) return 'release';
  if (
    msg.resourceType === 'Bundle' &&
    msg.entry?.[0]?.resource?.eventCoding?.code === 'dispense-notification'
  )
    return 'dispense';
  if (msg.resourceType === 'Task')
    return msg.code?.coding?.[0]?.code === 'abort' ? 'withdraw' : 'return';
  return undefined;
}

export type RxType = 'acute' | 'continuous' | 'continuous-repeat-dispensing';
export function rxTypeOf(file: string, msgs: unknown[]): RxType {
  const text = JSON.stringify(msgs);
  if (/continuous-repeat-dispensing/.test(text) || /eRD|repeat-dispensing/.test(file))
    return 'continuous-repeat-dispensing';
  if (/"continuous"/.test(text) || /repeat-primary/.test(file)) return 'continuous';
  return 'acute';
}

/** The published-to-created id map, applied to every string of a message. */
export class Substitution {
  readonly map = new Map<string, string>();
  add(published: string, ours: string): void {
    this.map.set(published.toLowerCase(), ours);
  }
  apply<T>(msg: T): T {
    const swap = (x: any): any => {
      if (typeof x === 'string') return this.map.get(x.toLowerCase()) ?? x;
      if (Array.isArray(x)) return x.map(swap);
      if (x && typeof x === 'object')
        return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, swap(v)]));
      return x;
    };
    return swap(msg);
  }
}

/**
 * Prepare, sign and send a prescription of `items` line items: the published template has four,
 * more are copies of its last MedicationRequest with their own item ids.
 */
export async function prescribeItems(
  t: EpsPlatform,
  o: OrderOptions & { items: number },
): Promise<Prescribed> {
  const bundle = orderBundle({ ...o, items: Math.min(4, o.items), withoutIds: true });
  const requests = bundle.entry.filter((e: any) => e.resource.resourceType === 'MedicationRequest');
  const at = bundle.entry.indexOf(requests[requests.length - 1]) + 1;
  for (let n = requests.length; n < o.items; n++) {
    const copy = structuredClone(requests[requests.length - 1]);
    copy.fullUrl = `urn:uuid:${randomUUID()}`;
    copy.resource.id = copy.fullUrl.slice(9);
    copy.resource.identifier[0].value = randomUUID();
    bundle.entry.splice(at + n - requests.length, 0, copy);
  }
  bundle.entry[0].resource.focus = bundle.entry
    .slice(1)
    .map((e: any) => ({ reference: e.fullUrl }));
  const prepared = await t.eps.post('/$prepare', bundle, t.eps.tokens.prescriber);
  if (prepared.status !== 200)
    throw new Error(
      `$prepare failed ${prepared.status}: ${JSON.stringify(prepared.body).slice(0, 400)}`,
    );
  const params = prepared.body.parameter as {
    name: string;
    valueString?: string;
    resource?: any;
  }[];
  const signed = withSignature(
    params.find((q) => q.name === 'message')!.resource,
    await signDigest(t.eps.key, params.find((q) => q.name === 'digest')!.valueString!),
  );
  const response = await t.eps.post('/$process-message', signed, t.eps.tokens.prescriber);
  if (response.status !== 200)
    throw new Error(
      `prescribe failed ${response.status}: ${JSON.stringify(response.body).slice(0, 400)}`,
    );
  return { ids: orderIds(signed), signed, response };
}

export interface Setup {
  p: Prescribed;
  nhs: string;
  token: string;
  sub: Substitution;
  ods: string;
}

/** Creates the prescription the published messages refer to, for a patient nominating the example's pharmacy. */
export async function createFor(t: EpsPlatform, file: string, msgs: any[]): Promise<Setup> {
  const ids = publishedIds(msgs);
  const ods = msgs.map(pharmacyOf).find((o) => typeof o === 'string') ?? 'FLE79';
  const nhs = await addPatient(t.platform.repo, { nominated: ods });
  const type = rxTypeOf(file, msgs);
  const p = await prescribeItems(t, {
    nhsNumber: nhs,
    items: Math.max(1, ids.items.length),
    type,
    ...(type === 'continuous-repeat-dispensing' ? { repeats: 2 } : {}),
  });
  const sub = new Substitution();
  for (const s of ids.shortForms) sub.add(s, p.ids.shortFormId);
  for (const l of ids.longForms) sub.add(l, p.ids.longFormId);
  ids.items.forEach((it, i) => sub.add(it, p.ids.items[i]));
  for (const n of ids.nhs) sub.add(n, nhs);
  // each message gets its own id, the same wherever the published messages name it (an amendment
  // names the one it replaces)
  for (const m of msgs)
    if (m.resourceType === 'Bundle' && typeof m.identifier?.value === 'string')
      sub.add(m.identifier.value, randomUUID());
  const token = await t.platform.token('R8003', {
    user: `pharmacist-${ods.toLowerCase()}`,
    org: ods,
  });
  return { p, nhs, token, sub, ods };
}

/** Where each published message goes in OpenSpine. */
export function submit(
  t: EpsPlatform,
  kind: Kind,
  body: unknown,
  token: string,
): Promise<EpsResponse> {
  const url = {
    release: '/Task/$release',
    dispense: '/$process-message',
    amend: '/$process-message',
    claim: '/Claim',
    return: '/Task',
    withdraw: '/Task',
  }[kind];
  return t.eps.post(url, body, token);
}

/** The codes a (published or OpenSpine) OperationOutcome carries: issue.code and details codes. */
export function outcomeCodes(body: any): { code?: string; details?: string }[] {
  if (body?.resourceType !== 'OperationOutcome') return [];
  return (body.issue ?? []).map((i: any) => ({
    code: i.code,
    details: i.details?.coding?.[0]?.code,
  }));
}

/** Expected status from a published file name (…-200_OK, …-400_X) or its published response. */
export function expectedStatus(file: string, response?: any): number {
  const m = /-(\d{3})_/.exec(file);
  if (m) return Number(m[1]);
  if (
    response?.resourceType === 'OperationOutcome' &&
    response.issue?.some((i: any) => i.severity === 'error')
  )
    return 400;
  return 200;
}
