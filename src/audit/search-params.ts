import { FhirError } from '../fhir/errors.js';
import { isValidNhsNumber } from '../fhir/nhs-number.js';
import { nhsNumberFromReference } from '../fhir/parameters.js';
import type { AuditQuery } from './types.js';

/** The AuditEvent search parameters: every other name is refused, so a typo never widens a search. */
export const AUDIT_SEARCH_PARAMS = [
  'patient',
  'agent',
  'user',
  'org',
  'action',
  'type',
  'date',
  '_count',
  '_cursor',
] as const;
export const AUDIT_TYPES = [
  'patient-record',
  'emergency-access',
  'self-claimed-relationship',
  'security',
] as const;
export const DEFAULT_COUNT = 50;
export const MAX_COUNT = 1000;

export interface AuditSearch {
  /** The filters, without the paging bounds. */
  filters: AuditQuery;
  count: number;
  /** Where the previous page stopped: entries older than `before`, in the snapshot ending at `snapshot`. */
  cursor?: { before: number; snapshot: number };
}

const bad = (diagnostics: string) => new FhirError(400, 'INVALID_SEARCH_DATA', diagnostics);

function single(query: Record<string, unknown>, name: string): string | undefined {
  const v = query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw bad(`Parameter '${name}' may be given only once`);
  if (v === '') throw bad(`Parameter '${name}' is empty`);
  return v;
}

const DATE =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?)?)?$/;

/**
 * The instant range [start, end) a FHIR date search value stands for, by its precision: a year, a
 * month, a day (UTC), a minute, a second or a millisecond. A time must carry its zone (FHIR rule).
 */
export function dateRange(value: string): { start: string; end: string } {
  const m = DATE.exec(value);
  if (!m)
    throw bad(
      `'${value}' is not a FHIR date (YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm[:ss[.sss]] with Z or an offset)`,
    );
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const offsetMinutes =
    !zone || zone === 'Z'
      ? 0
      : (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
  const parts = [
    Number(y),
    mo ? Number(mo) - 1 : 0,
    d ? Number(d) : 1,
    h ? Number(h) : 0,
    mi ? Number(mi) : 0,
    s ? Number(s) : 0,
  ];
  const ms = frac ? Math.floor(Number(frac) * 1000) : 0;
  const startUtc = Date.UTC(parts[0], parts[1], parts[2], parts[3], parts[4], parts[5], ms);
  // Date.UTC rolls over out-of-range fields (month 13, 30 February): refuse those instead
  const check = new Date(startUtc);
  if (
    check.getUTCFullYear() !== parts[0] ||
    check.getUTCMonth() !== parts[1] ||
    check.getUTCDate() !== parts[2] ||
    check.getUTCHours() !== parts[3] ||
    check.getUTCMinutes() !== parts[4] ||
    check.getUTCSeconds() !== parts[5]
  ) {
    throw bad(`'${value}' is not a valid date`);
  }
  const start = new Date(startUtc);
  const end = new Date(startUtc);
  if (frac) end.setUTCMilliseconds(end.getUTCMilliseconds() + 1);
  else if (s) end.setUTCSeconds(end.getUTCSeconds() + 1);
  else if (mi) end.setUTCMinutes(end.getUTCMinutes() + 1);
  else if (d) end.setUTCDate(end.getUTCDate() + 1);
  else if (mo) end.setUTCMonth(end.getUTCMonth() + 1);
  else end.setUTCFullYear(end.getUTCFullYear() + 1);
  const shift = (t: Date) => new Date(t.getTime() - offsetMinutes * 60_000).toISOString();
  return { start: shift(start), end: shift(end) };
}

/** Narrows the filters' time window by one `date` value (eq, ge, gt, le, lt; no prefix means eq). */
function applyDate(filters: AuditQuery, raw: string): void {
  const [, given, value] = /^([a-z]{2})?(.*)$/s.exec(raw)!;
  const prefix = given ?? 'eq';
  if (!['eq', 'ge', 'gt', 'le', 'lt'].includes(prefix))
    throw bad(`Date prefix '${prefix}' is not supported; use eq, ge, gt, le or lt`);
  const { start, end } = dateRange(value);
  const from = prefix === 'eq' || prefix === 'ge' ? start : prefix === 'gt' ? end : undefined;
  const before = prefix === 'eq' || prefix === 'le' ? end : prefix === 'lt' ? start : undefined;
  if (from !== undefined && (filters.timeFrom === undefined || from > filters.timeFrom))
    filters.timeFrom = from;
  if (before !== undefined && (filters.timeBefore === undefined || before < filters.timeBefore))
    filters.timeBefore = before;
}

function whole(raw: string, name: string): number {
  if (!/^\d{1,15}$/.test(raw)) throw bad(`Parameter '${name}' must be a whole number`);
  return Number(raw);
}

/** Reads and checks the query string of GET AuditEvent; anything unknown or malformed is a 400. */
export function parseAuditSearch(query: Record<string, unknown>): AuditSearch {
  for (const name of Object.keys(query)) {
    if (!(AUDIT_SEARCH_PARAMS as readonly string[]).includes(name)) {
      throw bad(`Unknown search parameter '${name}'; supported: ${AUDIT_SEARCH_PARAMS.join(', ')}`);
    }
  }
  const filters: AuditQuery = {};
  const patient = single(query, 'patient');
  if (patient !== undefined) {
    filters.patient = nhsNumberFromReference(patient);
    if (!isValidNhsNumber(filters.patient))
      throw bad(`Parameter 'patient' is not a valid NHS Number`);
  }
  const agent = single(query, 'agent');
  const user = single(query, 'user');
  if (agent !== undefined && user !== undefined && agent !== user)
    throw bad("Parameters 'agent' and 'user' both name the user; give one");
  const userId = agent ?? user;
  if (userId !== undefined) {
    if (userId.length > 200) throw bad('The user id is longer than 200 characters');
    filters.userId = userId;
  }
  const org = single(query, 'org');
  if (org !== undefined) {
    if (!/^[A-Z0-9]{3,8}$/i.test(org))
      throw bad(`Parameter 'org' must be an ODS code, got '${org.slice(0, 20)}'`);
    filters.org = org.toUpperCase();
  }
  const action = single(query, 'action');
  if (action !== undefined) {
    if (!/^[a-z0-9][a-z0-9.-]{0,99}$/i.test(action))
      throw bad(`Parameter 'action' must be an activity such as pds.read`);
    filters.action = action;
  }
  const type = single(query, 'type');
  if (type !== undefined) {
    if (!(AUDIT_TYPES as readonly string[]).includes(type))
      throw bad(`Parameter 'type' must be one of ${AUDIT_TYPES.join(', ')}`);
    filters.type = type;
  }
  const dates = query.date === undefined ? [] : [query.date].flat();
  if (dates.length > 2) throw bad("Parameter 'date' may be given at most twice (a range)");
  for (const d of dates) {
    if (typeof d !== 'string' || d === '') throw bad("Parameter 'date' is empty");
    applyDate(filters, d);
  }
  const countRaw = single(query, '_count');
  // FHIR lets a server cap the page size; asking for more than the cap gets the cap
  const count =
    countRaw === undefined ? DEFAULT_COUNT : Math.min(whole(countRaw, '_count'), MAX_COUNT);
  const cursorRaw = single(query, '_cursor');
  let cursor: AuditSearch['cursor'];
  if (cursorRaw !== undefined) {
    const m = /^(\d{1,15})\.(\d{1,15})$/.exec(cursorRaw);
    if (!m || Number(m[1]) > Number(m[2]) + 1)
      throw bad("Parameter '_cursor' is not a cursor from a next link");
    cursor = { before: Number(m[1]), snapshot: Number(m[2]) };
  }
  return { filters, count, cursor };
}
