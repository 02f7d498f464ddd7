import { resourceType, type ResourceStore } from '../../store/resource-store.js';
import type { JWK } from 'jose';
import { ACTIVITIES, isActivity, type Activity } from '../policy.js';
import type { ApplicationAccessMode } from '../principal.js';
import {
  createOnce,
  hashSecret,
  randomToken,
  replaceIfUnchanged,
  verifySecret,
} from './records.js';
import { UserInputError } from './users.js';

export const CLIENT_TYPE = resourceType<OAuthClient>('OAuthClient');

/**
 * A registered OAuth client. A portal signs users in through the authorization code flow (public
 * client with PKCE, redirect URIs registered). An application calls the APIs with no user present:
 * it authenticates with a signed client assertion (private_key_jwt, registered public keys) or a
 * client secret, and its tokens carry only its registered scopes.
 */
export interface OAuthClient {
  resourceType: typeof CLIENT_TYPE;
  id: string;
  name: string;
  kind: 'portal' | 'application';
  status: 'active' | 'revoked';
  redirectUris: string[];
  secretHash?: string;
  jwks?: { keys: JWK[] };
  scopes: Activity[];
  /** ODS code of the organisation that owns the application (its legitimate relationships are that org's). */
  org: string;
  /** An application's access mode: privileged application-restricted is registered explicitly. */
  accessMode?: ApplicationAccessMode;
}

export interface NewClient {
  id?: string;
  name: string;
  kind: 'portal' | 'application';
  redirectUris?: string[];
  jwks?: { keys: JWK[] };
  /** Generate a client secret (returned once, stored hashed). */
  withSecret?: boolean;
  scopes?: string[];
  org?: string;
  accessMode?: string;
}

const CLIENT_ID = /^[A-Za-z0-9._-]{3,64}$/;

export class ClientRegistry {
  constructor(private readonly repo: ResourceStore) {}

  /** Registers a client; returns it and, when asked for, its secret (shown once). */
  async add(input: NewClient): Promise<{ client: OAuthClient; secret?: string }> {
    const id = input.id ?? `app-${randomToken(9)}`;
    if (!CLIENT_ID.test(id))
      throw new UserInputError(`client id '${id}' must be 3-64 letters, digits, '.', '_' or '-'`);
    const scopes = input.scopes ?? [];
    for (const s of scopes) {
      if (!isActivity(s))
        throw new UserInputError(`scope '${s}' is not an activity in the RBAC policy table`);
      if (input.kind === 'application' && !ACTIVITIES[s].applicationGrantable)
        throw new UserInputError(
          `scope '${s}' needs a user present and cannot be granted to an application`,
        );
    }
    const redirectUris = input.redirectUris ?? [];
    for (const uri of redirectUris) {
      let parsed: URL;
      try {
        parsed = new URL(uri);
      } catch {
        throw new UserInputError(`redirect URI '${uri}' is not a URL`);
      }
      if (parsed.hash) throw new UserInputError('a redirect URI may not have a fragment');
    }
    if (input.kind === 'portal' && redirectUris.length === 0)
      throw new UserInputError('a portal client needs at least one redirect URI');
    if (input.kind === 'application' && !input.jwks && !input.withSecret)
      throw new UserInputError(
        'an application needs public keys (--jwks) or a client secret (--secret)',
      );
    if (
      input.jwks &&
      (!Array.isArray(input.jwks.keys) ||
        input.jwks.keys.length === 0 ||
        input.jwks.keys.some((k) => 'd' in k))
    ) {
      throw new UserInputError('--jwks must be a JWK set of public keys');
    }
    const org = (input.org ?? '').toUpperCase();
    if (input.kind === 'application' && !/^[A-Z0-9]{3,8}$/.test(org))
      throw new UserInputError('an application needs the ODS code of its organisation (--org)');
    const accessMode = input.accessMode ?? 'application-restricted';
    if (
      accessMode !== 'application-restricted' &&
      accessMode !== 'privileged-application-restricted'
    ) {
      throw new UserInputError(
        `access mode '${accessMode}' must be application-restricted or privileged-application-restricted`,
      );
    }
    if (input.kind !== 'application' && input.accessMode !== undefined)
      throw new UserInputError('only an application has an access mode');
    const secret = input.withSecret ? randomToken(32) : undefined;
    const client: OAuthClient = {
      resourceType: CLIENT_TYPE,
      id,
      name: input.name,
      kind: input.kind,
      status: 'active',
      redirectUris,
      ...(secret ? { secretHash: hashSecret(secret) } : {}),
      ...(input.jwks ? { jwks: input.jwks } : {}),
      scopes: scopes as Activity[],
      org,
      ...(input.kind === 'application' ? { accessMode } : {}),
    };
    if (
      !(await createOnce(this.repo, CLIENT_TYPE, id, client, [
        { param: 'kind', value: input.kind },
      ]))
    ) {
      throw new UserInputError(`client ${id} is already registered`);
    }
    return { client, secret };
  }

  async get(id: string): Promise<OAuthClient | null> {
    if (!CLIENT_ID.test(id)) return null;
    const client = (await this.repo.read(CLIENT_TYPE, id))?.resource;
    return client ?? null;
  }

  async list(): Promise<OAuthClient[]> {
    const ids = await this.repo.search({
      type: CLIENT_TYPE,
      criteria: [
        {
          any: [
            { param: 'kind', op: 'eq', value: 'portal' },
            { param: 'kind', op: 'eq', value: 'application' },
          ],
        },
      ],
      limit: 1000,
    });
    return (await this.repo.readMany(CLIENT_TYPE, ids)).map((s) => s.resource);
  }

  /** An active client whose secret matches, or null. */
  async authenticateWithSecret(id: string, secret: string): Promise<OAuthClient | null> {
    const client = await this.get(id);
    return client && client.status === 'active' && verifySecret(secret, client.secretHash)
      ? client
      : null;
  }

  /** Registers one more redirect URI for a portal (the demo portal's address follows the server's URL). */
  async addRedirectUri(id: string, uri: string): Promise<boolean> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const stored = await this.repo.read(CLIENT_TYPE, id);
      if (!stored) return false;
      const client = stored.resource;
      if (client.redirectUris.includes(uri)) return true;
      if (
        await replaceIfUnchanged(
          this.repo,
          stored,
          { ...client, redirectUris: [...client.redirectUris, uri] },
          [{ param: 'kind', value: client.kind }],
        )
      )
        return true;
    }
    throw new Error(`client ${id} is being changed by someone else; try again`);
  }

  async markRevoked(id: string): Promise<boolean> {
    const stored = await this.repo.read(CLIENT_TYPE, id);
    if (!stored) return false;
    const client = stored.resource;
    if (client.status === 'revoked') return true;
    return replaceIfUnchanged(this.repo, stored, { ...client, status: 'revoked' }, [
      { param: 'kind', value: client.kind },
    ]);
  }
}
