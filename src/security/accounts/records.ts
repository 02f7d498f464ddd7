import { createHash, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { VersionConflictError } from '../../store/errors.js';
import type { ResourceStore, StoredResource } from '../../store/resource-store.js';

/**
 * Small helpers shared by the security accounts stores. Security records (users, clients, sessions,
 * revocations, codes) are stored as versioned documents in the same repository as patient data,
 * so they get the same atomic, version-checked writes on both stores.
 */

/** Creates a document; false if one with that id already exists (the atomic "first writer wins"). */
export async function createOnce(
  repo: ResourceStore,
  type: string,
  id: string,
  resource: Record<string, any>,
  index: { param: string; value: string }[] = [],
): Promise<boolean> {
  try {
    await repo.commit({ resources: [{ type, id, expectedVersion: 0, resource, index }] });
    return true;
  } catch (err) {
    if (err instanceof VersionConflictError) return false;
    throw err;
  }
}

/** Replaces a document only if it is still at the version the caller read; false if someone else changed it. */
export async function replaceIfUnchanged(
  repo: ResourceStore,
  stored: StoredResource,
  resource: Record<string, any>,
  index: { param: string; value: string }[] = [],
): Promise<boolean> {
  try {
    await repo.commit({
      resources: [
        { type: stored.type, id: stored.id, expectedVersion: stored.version, resource, index },
      ],
    });
    return true;
  } catch (err) {
    if (err instanceof VersionConflictError) return false;
    throw err;
  }
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** scrypt with a random salt: "scrypt$salt$hash". */
export function hashSecret(secret: string): string {
  const salt = randomBytes(16);
  return `scrypt$${salt.toString('base64url')}$${scryptSync(secret, salt, 32).toString('base64url')}`;
}

export function verifySecret(secret: string, stored: string | undefined): boolean {
  if (!stored) return false;
  const [scheme, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = scryptSync(secret, Buffer.from(salt, 'base64url'), expected.length);
  return timingSafeEqual(expected, actual);
}
