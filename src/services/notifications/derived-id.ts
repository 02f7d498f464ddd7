import { createHash } from 'node:crypto';

/**
 * A UUID (version 5 layout, SHA-256 based) determined by its parts: the same event and subscription
 * always give the same id, so a redelivered event finds what its first delivery created and makes
 * nothing twice, and a subscriber sees the same Bundle id however often it is sent.
 */
export function derivedId(...parts: string[]): string {
  const hash = createHash('sha256')
    .update('openspine-notifications\n')
    .update(parts.join('\n'))
    .digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
