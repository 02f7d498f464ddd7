/**
 * What the prescription pages show, read from the EPS tracker's answer (a searchset of Task, one
 * per issue: docs/eps.md, Tracker). Staff see the EPS status names; patients the same statuses in
 * plain words. Nothing here calls the platform: prescription-pages.ts does, as the signed-in person.
 */
import { API } from './api-paths.js';
import type { PageTools } from './web-page.js';

type TagColour = 'grey' | 'green' | 'blue' | 'purple' | 'red' | 'orange' | 'yellow' | 'aqua-green';

export interface StatusView {
  /** OpenSpine's status name (e.g. with-dispenser). */
  code: string;
  /** What staff read: the EPS display name. */
  display: string;
  /** What a patient reads. */
  plain: string;
  colour: TagColour;
  /** What it means for a patient, in a sentence (prescriptions only). */
  meaning?: string;
}

export interface ItemView {
  id: string;
  medicine: string;
  status: StatusView;
  supplied?: string;
  reason?: string;
  lastDispensed?: string;
}

export interface HistoryView {
  seq: number;
  time: string;
  transition: string;
  /** The status it left the prescription in. */
  to: string;
  /** What happened, in words. */
  what: string;
  /** The same for a patient. */
  plainWhat: string;
  /** The status change it made ("To Be Dispensed to With Dispenser"), if any. */
  change?: string;
  organisation?: string;
  user?: string;
}

export interface PrescriptionView {
  taskId: string;
  shortFormId: string;
  nhsNumber: string;
  status: StatusView;
  course?: string;
  issue?: { number: number; of: number };
  issued: string;
  updated: string;
  prescriber?: string;
  /** The pharmacy holding (or that dispensed) it, or the nominated one while it waits. */
  dispenser?: string;
  nominated?: string;
  validFrom?: string;
  expires?: string;
  items: ItemView[];
  history: HistoryView[];
}

const STATUS: Record<string, Omit<StatusView, 'code'>> = {
  future: {
    display: 'Future Dated Prescription',
    plain: 'Not due yet',
    colour: 'grey',
    meaning:
      'This is a later issue of a repeat prescription. A pharmacy can get it once it is due.',
  },
  'to-be-dispensed': {
    display: 'To Be Dispensed',
    plain: 'Waiting for a pharmacy',
    colour: 'blue',
    meaning:
      'Your prescription is ready for a pharmacy. If you have a nominated pharmacy, it has been sent there.',
  },
  'with-dispenser': {
    display: 'With Dispenser',
    plain: 'With pharmacy',
    colour: 'purple',
    meaning: 'A pharmacy has your prescription and is getting it ready.',
  },
  'with-dispenser-active': {
    display: 'With Dispenser - Active',
    plain: 'With pharmacy, partly supplied',
    colour: 'yellow',
    meaning:
      'The pharmacy has given you some of your medicines. It will let you know about the rest.',
  },
  dispensed: {
    display: 'Dispensed',
    plain: 'Collected',
    colour: 'green',
    meaning: 'The pharmacy has given you your medicines.',
  },
  'not-dispensed': {
    display: 'Not Dispensed',
    plain: 'Not dispensed',
    colour: 'orange',
    meaning:
      'The pharmacy could not give you these medicines. Speak to your pharmacy or GP surgery.',
  },
  claimed: {
    display: 'Claimed',
    plain: 'Collected',
    colour: 'green',
    meaning: 'The pharmacy has given you your medicines.',
  },
  cancelled: {
    display: 'Cancelled',
    plain: 'Cancelled',
    colour: 'red',
    meaning:
      'Your prescriber cancelled this prescription. Speak to your GP surgery if you did not expect this.',
  },
  expired: {
    display: 'Expired',
    plain: 'Expired',
    colour: 'grey',
    meaning:
      'This prescription was not dispensed in time. Ask your GP surgery if you still need it.',
  },
};

const ITEM_STATUS: Record<string, Omit<StatusView, 'code'>> = {
  'to-be-dispensed': {
    display: 'Item to be dispensed',
    plain: 'Waiting for a pharmacy',
    colour: 'blue',
  },
  'with-dispenser': { display: 'Item with dispenser', plain: 'With pharmacy', colour: 'purple' },
  dispensed: { display: 'Item fully dispensed', plain: 'Collected', colour: 'green' },
  partial: { display: 'Item dispensed - partial', plain: 'Partly supplied', colour: 'yellow' },
  owing: {
    display: 'Item not dispensed owing',
    plain: 'Owed to you by the pharmacy',
    colour: 'orange',
  },
  'not-dispensed': { display: 'Item not dispensed', plain: 'Not dispensed', colour: 'orange' },
  cancelled: { display: 'Item Cancelled', plain: 'Cancelled', colour: 'red' },
  expired: { display: 'Expired', plain: 'Expired', colour: 'grey' },
};

/** What happened, for a patient. */
const PLAIN_HAPPENED: Record<string, string> = {
  created: 'Your prescriber sent the prescription',
  available: 'The next issue became available',
  released: 'A pharmacy got the prescription to prepare it',
  returned: 'The pharmacy gave the prescription back so another pharmacy can dispense it',
  dispensed: 'The pharmacy recorded what it gave you',
  withdrawn: 'The pharmacy corrected its record of what it gave you',
  claimed: 'The pharmacy claimed payment for it',
  cancelled: 'Your prescriber cancelled it',
  'cancellation-requested': 'Your prescriber asked to cancel it',
  expired: 'It expired',
};

const HAPPENED: Record<string, string> = {
  created: 'Prescribed and signed by the prescriber',
  available: 'Next issue became available to dispense',
  released: 'Downloaded by a pharmacy',
  returned: 'Returned to the Spine by the pharmacy',
  dispensed: 'Dispense notification sent by the pharmacy',
  withdrawn: 'Dispense notification withdrawn by the pharmacy',
  claimed: 'Claim for payment sent by the pharmacy',
  cancelled: 'Cancelled by the prescriber',
  'cancellation-requested': 'Cancellation requested while with the pharmacy',
  expired: 'Expired',
};

function statusView(table: typeof STATUS, code: string | undefined): StatusView {
  const known = code ? table[code] : undefined;
  return {
    code: code ?? 'unknown',
    ...(known ?? { display: code ?? 'Unknown', plain: 'Unknown', colour: 'grey' }),
  };
}

const ext = (list: any[] | undefined, suffix: string): any =>
  (Array.isArray(list) ? list : []).find(
    (e) => typeof e?.url === 'string' && e.url.endsWith(suffix),
  );
const part = (e: any, name: string): any =>
  (Array.isArray(e?.extension) ? e.extension : []).find((x: any) => x.url === name);

function historyOf(task: any, items: ItemView[]): HistoryView[] {
  const events = (Array.isArray(task.extension) ? task.extension : []).filter((e: any) =>
    String(e?.url).endsWith('eps-status-history'),
  );
  return events.map((e: any) => {
    const value = (name: string) => {
      const p = part(e, name);
      return p?.valueInteger ?? p?.valueCode ?? p?.valueDateTime ?? p?.valueString;
    };
    const transition = String(value('transition') ?? '');
    const from = value('from') as string | undefined;
    const to = value('to') as string;
    let what = HAPPENED[transition] ?? transition;
    const detail = parseDetail(value('detail'));
    if (transition === 'dispensed' && Array.isArray(detail?.items)) {
      const said = detail.items
        .map((i: any) => {
          const name = items.find((it) => it.id === i.item)?.medicine ?? 'an item';
          return `${name}: ${statusView(ITEM_STATUS, i.status).display.toLowerCase()}`;
        })
        .join('; ');
      if (said) what = `${what} (${said})`;
    }
    const reason = detail?.reason?.display ?? detail?.reason;
    if (typeof reason === 'string' && transition !== 'dispensed') what = `${what}: ${reason}`;
    return {
      seq: Number(value('seq')),
      time: String(value('time') ?? ''),
      transition,
      to: String(to ?? ''),
      what,
      plainWhat: PLAIN_HAPPENED[transition] ?? 'The prescription changed',
      ...(from && from !== to
        ? { change: `${statusView(STATUS, from).display} to ${statusView(STATUS, to).display}` }
        : !from
          ? { change: statusView(STATUS, to).display }
          : {}),
      ...(value('organisation') ? { organisation: String(value('organisation')) } : {}),
      ...(value('user') ? { user: String(value('user')) } : {}),
    };
  });
}

function parseDetail(raw: unknown): any {
  if (typeof raw !== 'string') return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

function itemOf(input: any): ItemView {
  const status = ext(input.extension, 'eps-item-status')?.valueCode;
  const supplied = ext(input.extension, 'eps-item-supplied')?.valueQuantity;
  const reason = ext(input.extension, 'eps-item-reason')?.valueCoding;
  const dispensing = ext(input.extension, 'Extension-EPS-DispensingInformation');
  const last = dispensing?.extension?.find(
    (x: any) => x.url === 'dateLastDispensed',
  )?.valueDateTime;
  return {
    id: String(input.valueReference?.identifier?.value ?? ''),
    medicine: String(input.valueReference?.display ?? 'Unnamed item'),
    status: statusView(ITEM_STATUS, status),
    ...(supplied && typeof supplied.value === 'number'
      ? { supplied: `${supplied.value}${supplied.unit ? ` ${supplied.unit}` : ''}` }
      : {}),
    ...(reason ? { reason: String(reason.display ?? reason.code) } : {}),
    ...(last ? { lastDispensed: String(last) } : {}),
  };
}

/** The pharmacy that downloaded (released) the prescription, unless it gave it back since. */
function dispenserOf(history: HistoryView[]): string | undefined {
  const last = history
    .filter((h) => h.transition === 'released' || h.transition === 'returned')
    .at(-1);
  return last?.transition === 'released' ? last.organisation : undefined;
}

/** One tracker Task as the pages show it. */
export function prescriptionOf(task: any): PrescriptionView {
  const items: ItemView[] = (Array.isArray(task.input) ? task.input : []).map(itemOf);
  const history = historyOf(task, items);
  const lastTo = history.at(-1)?.to;
  const issue = ext(task.extension, 'eps-issue');
  const number = issue?.extension?.find((x: any) => x.url === 'number')?.valueInteger;
  const of = issue?.extension?.find((x: any) => x.url === 'of')?.valueInteger;
  const course = ext(task.extension, 'Extension-EPS-Prescription')?.extension?.find(
    (x: any) => x.url === 'courseOfTherapyType',
  )?.valueCoding?.display;
  const nominated = ext(task.extension, 'eps-nominated-pharmacy')?.valueIdentifier?.value;
  return {
    taskId: String(task.id),
    shortFormId: String(task.focus?.identifier?.value ?? ''),
    nhsNumber: String(task.for?.identifier?.value ?? ''),
    status: statusView(STATUS, lastTo),
    ...(course ? { course: String(course) } : {}),
    ...(typeof number === 'number' && typeof of === 'number' ? { issue: { number, of } } : {}),
    issued: String(task.authoredOn ?? ''),
    updated: String(task.lastModified ?? task.authoredOn ?? ''),
    ...(task.requester?.identifier?.value
      ? { prescriber: String(task.requester.identifier.value) }
      : {}),
    ...(dispenserOf(history) ? { dispenser: dispenserOf(history) } : {}),
    ...(nominated ? { nominated: String(nominated) } : {}),
    ...(task.restriction?.period?.start
      ? { validFrom: String(task.restriction.period.start) }
      : {}),
    ...(task.restriction?.period?.end ? { expires: String(task.restriction.period.end) } : {}),
    items,
    history,
  };
}

/** The tracker's searchset as views, in the tracker's order (newest first). */
export function prescriptionsOf(bundle: any): PrescriptionView[] {
  const entries: any[] = Array.isArray(bundle?.entry) ? bundle.entry : [];
  return entries
    .map((e) => e.resource)
    .filter((r) => r?.resourceType === 'Task')
    .map(prescriptionOf);
}

/** The tracker query: by short-form prescription ID, or by the patient's NHS Number. */
export function trackerUrl(by: 'prescription' | 'patient', value: string): string {
  const param = by === 'prescription' ? 'focus:identifier' : 'patient:identifier';
  return `${API.eps}/Task?${param}=${encodeURIComponent(value)}`;
}

/**
 * Names of the organisations (ODS code to name) from the Spine Directory, for staff (patients may
 * not read it). Best effort: a code the directory does not know is shown as the code alone.
 */
export async function organisationNames(
  tools: PageTools,
  codes: (string | undefined)[],
): Promise<Record<string, string>> {
  const wanted = [...new Set(codes.filter((c): c is string => !!c && /^[A-Z0-9]{3,10}$/i.test(c)))];
  if (tools.user.kind !== 'staff' || wanted.length === 0) return {};
  const res = await tools.call({
    url: `${API.directory}/Organization?identifier=${encodeURIComponent(wanted.join(','))}&_count=100`,
  });
  const names: Record<string, string> = {};
  if (res.status !== 200) return names;
  for (const e of Array.isArray(res.body?.entry) ? res.body.entry : []) {
    const org = e?.resource;
    if (org?.resourceType === 'Organization' && typeof org.name === 'string')
      names[String(org.id)] = org.name;
  }
  return names;
}

/** Every ODS code the views name (for one directory look-up). */
export function organisationsIn(views: PrescriptionView[]): string[] {
  return views
    .flatMap((v) => [
      v.prescriber,
      v.dispenser,
      v.nominated,
      ...v.history.map((h) => h.organisation),
    ])
    .filter((c): c is string => !!c);
}
