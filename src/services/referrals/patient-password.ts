/**
 * The password of a patient's referral letter: drawn at random when the letter is printed, shown
 * once on it, and kept only as a salted scrypt hash (node:crypto). A patient types it back, so it
 * avoids look-alike characters and is compared without case, spaces or hyphens.
 */
import { randomBytes, randomInt, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** No 0/o, 1/l/i: a password copied from paper is typed back as printed. */
const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
/** 12 characters of 31: about 59 bits, against at most a handful of tries before the lock. */
const LENGTH = 12;
const KEY_BYTES = 32;
const SALT_BYTES = 16;
/** scrypt's cost (N=2^14, r=8, p=1: ~16 MiB and tens of milliseconds per check). */
const COST: Required<Pick<ScryptOptions, 'N' | 'r' | 'p'>> = { N: 16_384, r: 8, p: 1 };

export interface PasswordHash {
  alg: 'scrypt';
  N: number;
  r: number;
  p: number;
  /** base64 */
  salt: string;
  /** base64 */
  hash: string;
}

/** A new password, printed as three groups of four (abcd-efgh-jkmn). */
export function drawPassword(): string {
  const chars = Array.from({ length: LENGTH }, () => ALPHABET[randomInt(ALPHABET.length)]);
  return [0, 4, 8].map((i) => chars.slice(i, i + 4).join('')).join('-');
}

/** The password as compared: lower case, without spaces or hyphens. */
export const normalisePassword = (typed: string): string =>
  typed.replace(/[\s-]/g, '').toLowerCase();

function derive(password: string, salt: Buffer, cost: typeof COST): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(
      normalisePassword(password),
      salt,
      KEY_BYTES,
      { ...cost, maxmem: 64 * 1024 * 1024 },
      (err, key) => (err ? reject(err) : resolve(key)),
    ),
  );
}

export async function hashPassword(password: string): Promise<PasswordHash> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, COST);
  return { alg: 'scrypt', ...COST, salt: salt.toString('base64'), hash: key.toString('base64') };
}

/** Whether `typed` is the password `stored` was made from (constant-time comparison). */
export async function passwordMatches(typed: string, stored: PasswordHash): Promise<boolean> {
  if (stored.alg !== 'scrypt' || typed.length > 100) return false;
  const expected = Buffer.from(stored.hash, 'base64');
  const key = await derive(typed, Buffer.from(stored.salt, 'base64'), {
    N: stored.N,
    r: stored.r,
    p: stored.p,
  });
  return key.length === expected.length && timingSafeEqual(key, expected);
}
