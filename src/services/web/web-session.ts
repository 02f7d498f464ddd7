import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { VersionConflictError } from '../../store/errors.js';
import { resourceType, type ResourceStore } from '../../store/resource-store.js';

export const WEB_SESSION_TYPE = resourceType<StoredWebSession>('WebSession');

/** Who is signed in, as the pages show them (read from the identity provider's userinfo and token). */
export interface WebUser {
  kind: 'staff' | 'patient';
  /** The staff user's id, or the patient's NHS Number. */
  userId: string;
  name: string;
  /** RBAC role code of the selected role profile, or 'patient'. */
  role: string;
  roleName: string;
  /** ODS code of the organisation the staff user works in ('' for a patient). */
  org: string;
  profileId?: string;
  nhsNumber?: string;
}

/** The tokens a session holds; only ever stored encrypted. */
export interface SessionTokens {
  accessToken: string;
  /** When the access token expires, ms since the epoch. */
  accessExpiresAt: number;
  refreshToken: string;
}

interface StoredWebSession {
  resourceType: 'WebSession';
  /** sha256 of the cookie's secret: the store never holds the cookie itself. */
  id: string;
  user: WebUser;
  /** The tokens, AES-256-GCM encrypted under a key derived from the cookie's secret. */
  sealedTokens: string;
  createdAt: string;
  lastSeenAt: string;
  /** The session ends at this time whatever happens (the identity provider's session ends then too). */
  expiresAt: string;
  /** A refresh under way on some node, so others wait for its tokens rather than reuse the old one. */
  refreshingUntil?: number;
  status: 'active' | 'ended';
}

export interface WebSession {
  id: string;
  user: WebUser;
  tokens: SessionTokens;
  lastSeenAt: number;
  expiresAt: number;
  version: number;
  refreshingUntil?: number;
}

const idOf = (secret: string) => createHash('sha256').update(secret).digest('hex');
const keyOf = (secret: string) =>
  Buffer.from(hkdfSync('sha256', secret, 'openspine-web', 'session tokens', 32));

function seal(secret: string, tokens: SessionTokens): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyOf(secret), iv);
  const body = Buffer.concat([cipher.update(JSON.stringify(tokens), 'utf8'), cipher.final()]);
  return [iv, cipher.getAuthTag(), body].map((b) => b.toString('base64url')).join('.');
}

function unseal(secret: string, sealed: string): SessionTokens | null {
  try {
    const [iv, tag, body] = sealed.split('.').map((p) => Buffer.from(p, 'base64url'));
    const decipher = createDecipheriv('aes-256-gcm', keyOf(secret), iv);
    decipher.setAuthTag(tag);
    return JSON.parse(Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8'));
  } catch {
    return null;
  }
}

/** Sessions are found by their person (to list or end a user's sessions), never by the cookie. */
const indexOf = (s: StoredWebSession) => [{ param: 'user', value: s.user.userId }];

/** The cookie's secret: 32 random bytes, base64url. */
const SECRET = /^[A-Za-z0-9_-]{43}$/;

/**
 * The web application's sessions, in the store so that they survive a restart and any node can
 * serve any page. The browser's cookie holds a random secret; the store holds only its hash and
 * the tokens encrypted under a key derived from it, so reading the store gives no one a session.
 */
export class WebSessionStore {
  constructor(
    private readonly repo: ResourceStore,
    /** Idle time after which a session no longer works (the smartcard idle lock). */
    readonly idleSeconds: number,
  ) {}

  /** Starts a session; returns the cookie's value. */
  async start(user: WebUser, tokens: SessionTokens, ttlSeconds: number): Promise<string> {
    const secret = randomBytes(32).toString('base64url');
    const now = new Date().toISOString();
    const record: StoredWebSession = {
      resourceType: 'WebSession',
      id: idOf(secret),
      user,
      sealedTokens: seal(secret, tokens),
      createdAt: now,
      lastSeenAt: now,
      expiresAt: new Date(Date.now() + ttlSeconds * 1000).toISOString(),
      status: 'active',
    };
    await this.repo.commit({
      resources: [
        {
          type: WEB_SESSION_TYPE,
          id: record.id,
          expectedVersion: 0,
          resource: record,
          index: indexOf(record),
        },
      ],
    });
    return secret;
  }

  /** The live session of a cookie: null when unknown, ended, idle too long or past its end. */
  async get(secret: string | undefined): Promise<WebSession | null> {
    if (!secret || !SECRET.test(secret)) return null;
    const stored = await this.repo.read(WEB_SESSION_TYPE, idOf(secret));
    if (!stored || stored.resource.status !== 'active') return null;
    const s = stored.resource;
    const lastSeenAt = Date.parse(s.lastSeenAt);
    const expiresAt = Date.parse(s.expiresAt);
    const now = Date.now();
    if (now >= expiresAt || now - lastSeenAt >= this.idleSeconds * 1000) return null;
    const tokens = unseal(secret, s.sealedTokens);
    if (!tokens) return null;
    return {
      id: s.id,
      user: s.user,
      tokens,
      lastSeenAt,
      expiresAt,
      version: stored.version,
      ...(s.refreshingUntil ? { refreshingUntil: s.refreshingUntil } : {}),
    };
  }

  /**
   * Records activity, at most every few seconds so that a burst of requests writes once. A lost
   * race means another request touched it at the same moment: harmless.
   */
  async touch(session: WebSession): Promise<void> {
    if (Date.now() - session.lastSeenAt < Math.min(60_000, this.idleSeconds * 100)) return;
    await this.update(session, { lastSeenAt: new Date().toISOString() });
  }

  /** Marks that this request is refreshing the tokens; null when another got there first. */
  async claimRefresh(session: WebSession): Promise<WebSession | null> {
    const until = Date.now() + 10_000;
    const version = await this.update(session, { refreshingUntil: until });
    return version ? { ...session, version, refreshingUntil: until } : null;
  }

  /** Stores fresh tokens (after a refresh) under the cookie's key, and ends the refresh claim. */
  async saveTokens(secret: string, session: WebSession, tokens: SessionTokens): Promise<boolean> {
    const version = await this.update(session, {
      sealedTokens: seal(secret, tokens),
      refreshingUntil: undefined,
      lastSeenAt: new Date().toISOString(),
    });
    return version !== null;
  }

  /** Ends a session (sign-out, or the identity provider refused its tokens). */
  async end(secret: string | undefined): Promise<void> {
    if (!secret || !SECRET.test(secret)) return;
    for (let attempt = 0; attempt < 5; attempt++) {
      const stored = await this.repo.read(WEB_SESSION_TYPE, idOf(secret));
      if (!stored || stored.resource.status === 'ended') return;
      // the ended record keeps no tokens
      const ended = { ...stored.resource, status: 'ended' as const, sealedTokens: '' };
      if ((await this.write(stored.id, stored.version, ended)) !== null) return;
    }
  }

  private async update(
    session: WebSession,
    change: Partial<StoredWebSession>,
  ): Promise<number | null> {
    const stored = await this.repo.read(WEB_SESSION_TYPE, session.id);
    if (!stored || stored.version !== session.version || stored.resource.status !== 'active')
      return null;
    const next: StoredWebSession = { ...stored.resource, ...change };
    if ('refreshingUntil' in change && change.refreshingUntil === undefined)
      delete next.refreshingUntil;
    return this.write(stored.id, stored.version, next);
  }

  private async write(
    id: string,
    version: number,
    resource: StoredWebSession,
  ): Promise<number | null> {
    try {
      await this.repo.commit({
        resources: [
          {
            type: WEB_SESSION_TYPE,
            id,
            expectedVersion: version,
            resource,
            index: indexOf(resource),
          },
        ],
      });
      return version + 1;
    } catch (err) {
      if (err instanceof VersionConflictError) return null;
      throw err;
    }
  }
}
