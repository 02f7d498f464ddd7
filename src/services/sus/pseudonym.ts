import { createHmac, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { normalisePostcode, outwardCode } from '../../fhir/postcode.js';

/**
 * Pseudonymisation for secondary uses. The NHS Number becomes a keyed HMAC: stable across extracts
 * (so analysts can link a patient's records over time) but not reversible, and not recomputable by
 * anyone without the key, which never leaves the data directory. Quasi-identifiers are coarsened:
 * postcode to its district, dates to year and month.
 */
export const PSEUDONYM_KEY_FILE = 'sus-pseudonym.key';

/** The extract key in the data dir, created (32 random bytes, owner-only) on first use. */
export function loadOrCreatePseudonymKey(dataDir: string): Buffer {
  const path = join(dataDir, PSEUDONYM_KEY_FILE);
  try {
    const hex = readFileSync(path, 'utf8').trim();
    if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`${path} is not a 32-byte hex key`);
    return Buffer.from(hex, 'hex');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    mkdirSync(dataDir, { recursive: true });
    const key = randomBytes(32);
    // 'wx': two extracts starting together cannot each write a different key
    try {
      writeFileSync(path, key.toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
      return key;
    } catch (raced) {
      if ((raced as NodeJS.ErrnoException).code === 'EEXIST')
        return loadOrCreatePseudonymKey(dataDir);
      throw raced;
    }
  }
}

export function pseudonymFor(key: Buffer, nhsNumber: string): string {
  return createHmac('sha256', key).update(nhsNumber).digest('hex');
}

/** "LS1 6AE" -> "LS1"; anything without an inward code stays unknown rather than leaking. */
export function postcodeDistrict(postcode: string | undefined): string | null {
  if (!postcode) return null;
  const pc = normalisePostcode(postcode);
  return /^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$/.test(pc) ? outwardCode(pc) : null;
}

/** "1985-03-12" or "2020-01-01T10:30:00+00:00" -> "1985-03". */
export function yearMonth(date: string | undefined): string | null {
  return date && /^\d{4}-\d{2}/.test(date) ? date.slice(0, 7) : null;
}
