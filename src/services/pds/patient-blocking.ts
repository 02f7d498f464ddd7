/**
 * Blocking keys: index params that join a birth date to a name, a name's sound or a postcode
 * (patient-index.ts writes them, trace.ts searches them). Kept apart so both sides, and the store
 * migration that derives them for records indexed before they existed, agree on one spelling.
 */
export const BLOCKING_PARAMS = {
  family: 'birthdate-family',
  phonetic: 'birthdate-phonetic',
  postcode: 'birthdate-postcode',
} as const;

/** `1976-02-26|smith`: the birth date first, so a name prefix under one date is one key range. */
export function blockingValue(birthDate: string, value: string): string {
  return `${birthDate}|${value}`;
}
