import { resourceType, type ResourceStore } from '../../store/resource-store.js';
import { randomUUID } from 'node:crypto';
import { createOnce, randomToken, replaceIfUnchanged, sha256 } from './records.js';

export const SESSION_TYPE = resourceType<Session>('Session');
export const AUTH_CODE_TYPE = resourceType<AuthCode>('AuthCode');
export const CLIENT_ASSERTION_TYPE = 'ClientAssertion';

/** A signed-in user's session with one selected role profile; refresh tokens belong to it. */
export interface Session {
  resourceType: typeof SESSION_TYPE;
  id: string;
  userId: string;
  profileId: string;
  clientId: string;
  createdAt: string;
  /** sha256 of the current refresh token; a refresh rotates it. */
  refreshHash: string;
  /** When the session (and its last refresh token) ends, ISO time: 12 hours, as a smartcard session. */
  expiresAt: string;
  status: 'active' | 'ended';
}

export interface AuthCode {
  resourceType: typeof AUTH_CODE_TYPE;
  id: string;
  clientId: string;
  redirectUri: string;
  codeChallenge: string;
  userId: string;
  profileId: string;
  nonce?: string;
  /** When the user proved who they are (seconds since the epoch), for the ID token's auth_time. */
  authTime?: number;
  /** The scopes granted at sign-in, returned with the tokens. */
  scope?: string;
  expiresAt: string;
  used: boolean;
}

export type RefreshResult =
  | { ok: true; session: Session; refreshToken: string }
  | { ok: false; reason: 'unknown' | 'expired' | 'reused' };

/**
 * Sessions, one-time authorization codes and used client-assertion ids, all in the store (any node
 * can serve any step).
 */
export class SessionStore {
  constructor(private readonly repo: ResourceStore) {}

  async start(input: {
    userId: string;
    profileId: string;
    clientId: string;
    ttlSeconds: number;
  }): Promise<{ session: Session; refreshToken: string }> {
    const refreshToken = `${randomUUID()}.${randomToken()}`;
    const now = Date.now();
    const session: Session = {
      resourceType: SESSION_TYPE,
      id: randomUUID(),
      userId: input.userId,
      profileId: input.profileId,
      clientId: input.clientId,
      createdAt: new Date(now).toISOString(),
      refreshHash: sha256(refreshToken),
      expiresAt: new Date(now + input.ttlSeconds * 1000).toISOString(),
      status: 'active',
    };
    await createOnce(this.repo, SESSION_TYPE, session.id, session, [
      { param: 'user', value: input.userId },
    ]);
    return { session, refreshToken: `${session.id}~${refreshToken}` };
  }

  async get(id: string): Promise<Session | null> {
    return (await this.repo.read(SESSION_TYPE, id))?.resource ?? null;
  }

  /**
   * Exchanges a refresh token for a new one. Presenting a refresh token that has already been
   * rotated away means it was copied: the session is ended (OAuth 2.0 security BCP, reuse detection).
   */
  async refresh(presented: string): Promise<RefreshResult> {
    const [sessionId, secret] = presented.split('~');
    if (!sessionId || !secret || !/^[0-9a-f-]{36}$/.test(sessionId))
      return { ok: false, reason: 'unknown' };
    for (let attempt = 0; attempt < 5; attempt++) {
      const stored = await this.repo.read(SESSION_TYPE, sessionId);
      if (!stored) return { ok: false, reason: 'unknown' };
      const session = stored.resource;
      if (session.status !== 'active' || Date.parse(session.expiresAt) <= Date.now())
        return { ok: false, reason: 'expired' };
      if (sha256(secret) !== session.refreshHash) {
        await this.end(sessionId);
        return { ok: false, reason: 'reused' };
      }
      const next = `${randomUUID()}.${randomToken()}`;
      const updated = { ...session, refreshHash: sha256(next) };
      if (
        await replaceIfUnchanged(this.repo, stored, updated, [
          { param: 'user', value: session.userId },
        ])
      ) {
        return { ok: true, session: updated, refreshToken: `${sessionId}~${next}` };
      }
      // someone refreshed concurrently: loop, and the stale secret will now count as reuse
    }
    return { ok: false, reason: 'reused' };
  }

  async end(sessionId: string): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const stored = await this.repo.read(SESSION_TYPE, sessionId);
      if (!stored || stored.resource.status === 'ended') return;
      const session = stored.resource;
      if (
        await replaceIfUnchanged(this.repo, stored, { ...session, status: 'ended' }, [
          { param: 'user', value: session.userId },
        ])
      )
        return;
    }
  }

  /** Issues a one-time authorization code valid for 60 seconds; only its hash is stored. */
  async issueCode(
    input: Omit<AuthCode, 'resourceType' | 'id' | 'expiresAt' | 'used'>,
  ): Promise<string> {
    const code = randomToken();
    const record: AuthCode = {
      resourceType: AUTH_CODE_TYPE,
      id: sha256(code),
      ...input,
      expiresAt: new Date(Date.now() + 60_000).toISOString(),
      used: false,
    };
    await createOnce(this.repo, AUTH_CODE_TYPE, record.id, record);
    return code;
  }

  /** Redeems a code exactly once (two concurrent redemptions: one wins). Null if unknown, expired or used. */
  async redeemCode(code: string): Promise<AuthCode | null> {
    const stored = await this.repo.read(AUTH_CODE_TYPE, sha256(code));
    if (!stored) return null;
    const record = stored.resource;
    if (record.used || Date.parse(record.expiresAt) <= Date.now()) return null;
    return (await replaceIfUnchanged(this.repo, stored, { ...record, used: true })) ? record : null;
  }

  /** Records a client assertion's jti; false when that client has used it before (a replay). */
  async recordAssertion(clientId: string, jti: string, expiresAt: number): Promise<boolean> {
    const id = `${clientId}:${sha256(jti)}`;
    return createOnce(this.repo, CLIENT_ASSERTION_TYPE, id, {
      resourceType: CLIENT_ASSERTION_TYPE,
      id,
      expiresAt: new Date(expiresAt * 1000).toISOString(),
    });
  }
}
