import type { Principal } from '../principal.js';
import type { ResourceStore } from '../../store/resource-store.js';
import { createOnce } from './records.js';

export const REVOCATION_TYPE = 'Revocation';

export type RevocationSubject = { user: string } | { session: string } | { client: string };

function keyOf(subject: RevocationSubject): string {
  if ('user' in subject) return `user:${subject.user}`;
  if ('session' in subject) return `session:${subject.session}`;
  return `client:${subject.client}`;
}

/**
 * Session lock: the list of revoked users, sessions and applications, kept in the store so every
 * node sees it. Each node caches answers for `ttlMs`, so a revocation made elsewhere (another node,
 * the CLI) takes effect within that time; one made through this node takes effect on the next request.
 */
export class RevocationList {
  private readonly cache = new Map<string, { revoked: boolean; checkedAt: number }>();
  /** Callers found not revoked, keyed by the verifier's cached principal object, with when. */
  private cleared = new WeakMap<Principal, number>();

  constructor(
    private readonly repo: ResourceStore,
    private readonly ttlMs = 1000,
  ) {}

  async revoke(subject: RevocationSubject, reason: string, by: string): Promise<void> {
    const key = keyOf(subject);
    await createOnce(this.repo, REVOCATION_TYPE, key, {
      resourceType: REVOCATION_TYPE,
      id: key,
      reason,
      by,
      revokedAt: new Date().toISOString(),
    });
    this.cache.set(key, { revoked: true, checkedAt: Date.now() });
    this.cleared = new WeakMap();
  }

  /** True when this caller was found not revoked within the cache time (no store call, no promise). */
  recentlyCleared(principal: Principal): boolean {
    const at = this.cleared.get(principal);
    return at !== undefined && Date.now() - at < this.ttlMs;
  }

  async isRevoked(subject: RevocationSubject): Promise<boolean> {
    const key = keyOf(subject);
    const now = Date.now();
    const hit = this.cache.get(key);
    // a revocation never ends, so a cached "revoked" stays true for good
    if (hit && (hit.revoked || now - hit.checkedAt < this.ttlMs)) return hit.revoked;
    const revoked = (await this.repo.readJson(REVOCATION_TYPE, key)) !== null;
    if (this.cache.size > 100_000) this.cache.clear();
    this.cache.set(key, { revoked, checkedAt: now });
    return revoked;
  }

  /** Whether the caller's user, session or application has been revoked. */
  async isPrincipalRevoked(principal: Principal): Promise<boolean> {
    const now = Date.now();
    const revoked =
      principal.kind === 'application'
        ? await this.isRevoked({ client: principal.userId })
        : await this.isRevoked({ user: principal.userId });
    if (
      revoked ||
      (principal.sessionId !== '' && (await this.isRevoked({ session: principal.sessionId })))
    )
      return true;
    this.cleared.set(principal, now);
    return false;
  }
}
