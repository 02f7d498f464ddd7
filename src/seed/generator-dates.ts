/**
 * The patient generator's dates, held as whole days since 1970-01-01: the window every generated
 * date falls in and cached ISO formatting, since toISOString per date dominated the profile.
 */
import { PADDED, type Rng } from './generator-random.js';

const DAY_MS = 86_400_000;
export const END_DAY = Date.UTC(2026, 0, 1) / DAY_MS; // every generated date falls before 2026-01-01
const FIRST_DAY = END_DAY - 36_600; // births reach back 100 years
const DATES: string[] = [];
export const isoDate = (day: number): string =>
  (DATES[day - FIRST_DAY] ??= new Date(day * DAY_MS).toISOString().slice(0, 10));
export const dateTime = (day: number, r: Rng): string =>
  `${isoDate(day)}T${PADDED[r.int(24)].slice(1)}:${PADDED[r.int(60)].slice(1)}:00+00:00`;
/** A day in [from, to), or `from` when the span is empty. */
export const dayBetween = (r: Rng, from: number, to: number): number =>
  from + (to > from ? r.int(to - from) : 0);
