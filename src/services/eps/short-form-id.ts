import { randomBytes, randomUUID } from 'node:crypto';

/**
 * Prescription identifiers. The short-form ID is what the patient's token carries:
 * `RRRRRR-OOOOOO-SSSSSC`, six random hex digits, the prescriber's ODS code zero-padded to six, five
 * hex digits of sequence and one check character over the other seventeen (ISO/IEC 7064 MOD 37-2,
 * with '+' standing for the 37th symbol as EPS does). The long-form ID is a UUID.
 */
const SYMBOLS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ+';
export const SHORT_FORM_ID = /^[0-9A-F]{6}-[0-9A-Z]{6}-[0-9A-F]{5}[0-9A-Z+]$/;
export const LONG_FORM_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The MOD 37-2 check character for the given characters (hyphens ignored). */
export function checkCharacter(body: string): string {
  let total = 0;
  for (const ch of body.replace(/-/g, '')) {
    const value = SYMBOLS.indexOf(ch);
    if (value < 0) throw new Error(`'${ch}' cannot appear in a prescription ID`);
    total = ((total + value) * 2) % 37;
  }
  return SYMBOLS[(38 - total) % 37];
}

/** Well formed and its check character is right. */
export function isValidShortFormId(id: string): boolean {
  return SHORT_FORM_ID.test(id) && checkCharacter(id.slice(0, -1)) === id.slice(-1);
}

/** The prescriber ODS code as the short-form ID carries it (zero-padded to six; longer codes keep their last six). */
export function odsPart(odsCode: string): string {
  return odsCode.toUpperCase().padStart(6, '0').slice(-6);
}

export function newShortFormId(prescriberOds: string): string {
  const hex = randomBytes(6).toString('hex').toUpperCase();
  const body = `${hex.slice(0, 6)}-${odsPart(prescriberOds)}-${hex.slice(6, 11)}`;
  return body + checkCharacter(body);
}

export function newLongFormId(): string {
  return randomUUID();
}
