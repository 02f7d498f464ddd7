import type { Environment } from 'nunjucks';

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

/** 9434765919 as 943 476 5919, the way the NHS writes an NHS Number. */
export function formatNhsNumber(value: unknown): string {
  const s = String(value ?? '');
  return /^\d{10}$/.test(s) ? `${s.slice(0, 3)} ${s.slice(3, 6)} ${s.slice(6)}` : s;
}

/** An ISO date (or date-time) as the NHS writes dates: 6 December 2026 (with the time, when given). */
export function formatUkDate(value: unknown): string {
  const s = String(value ?? '');
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}))?/.exec(s);
  if (!m) return s;
  const date = `${Number(m[3])} ${MONTHS[Number(m[2]) - 1]} ${m[1]}`;
  return m[4] ? `${date} at ${m[4]}:${m[5]}` : date;
}

/** The filters every template may use (nunjucks autoescapes everything else). */
export function configureTemplates(env: Environment): void {
  env.addFilter('nhsNumber', formatNhsNumber);
  env.addFilter('ukDate', formatUkDate);
}
