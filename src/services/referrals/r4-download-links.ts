/**
 * a042's temporary location: a download URL valid for one file and a short while only. The token is
 * `<expiry, unix seconds>.<HMAC-SHA256 of "<file id>.<expiry>">`, keyed by a key derived (HKDF) from
 * the platform's signing key, so every node of a cluster can check a link another node made, and a
 * link cannot be moved to another file, lengthened or forged. The party was checked when the link
 * was made; the download route checks only the link (it carries no token of its own: a caller
 * follows a 307 with no Authorization, as the published object-store location is fetched).
 */
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { SigningKey } from '../../security/embedded-idp.js';

/** How long a link stays valid ("only valid for a short period of time": a042). */
export const DOWNLOAD_LINK_SECONDS = 60;
/** The path under a file's R4 Binary URL the link names (`Binary/{id}/$download?token=...`). */
export const DOWNLOAD_OPERATION = '$download';

export type LinkRefusal = 'malformed' | 'signature' | 'expired';

/** The HMAC key of download links, derived from the signing key's private part. */
export function downloadLinkKey(signingKey: SigningKey): Buffer {
  const secret = String(signingKey.privateJwk.d ?? '');
  if (!secret) throw new Error('the signing key has no private part to derive a link key from');
  return Buffer.from(
    hkdfSync('sha256', Buffer.from(secret, 'base64url'), '', 'openspine e-RS a042 download', 32),
  );
}

const mac = (key: Buffer, id: string, expiry: number): Buffer =>
  createHmac('sha256', key).update(`${id}.${expiry}`).digest();

/** A token for file `id` valid until `expiresAt` (whole seconds). */
export function mintDownloadToken(key: Buffer, id: string, expiresAt: Date): string {
  const expiry = Math.floor(expiresAt.getTime() / 1000);
  return `${expiry}.${mac(key, id, expiry).toString('base64url')}`;
}

/** Why `token` does not open file `id` at `now`, or null when it does. */
export function checkDownloadToken(
  key: Buffer,
  id: string,
  token: unknown,
  now: Date,
): LinkRefusal | null {
  const m = typeof token === 'string' ? /^([0-9]{1,12})\.([A-Za-z0-9_-]{43})$/.exec(token) : null;
  if (!m) return 'malformed';
  const expiry = Number(m[1]);
  const given = Buffer.from(m[2], 'base64url');
  const expected = mac(key, id, expiry);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'signature';
  if (expiry * 1000 <= now.getTime()) return 'expired';
  return null;
}
