import { createHash } from 'node:crypto';
import { ClientRegistry } from '../../security/accounts/clients.js';
import { randomToken } from '../../security/accounts/records.js';
import { UserDirectory, UserInputError } from '../../security/accounts/users.js';
import type { ResourceStore } from '../../store/resource-store.js';
import { DEV_CALLBACK_PATH, DEV_PORTAL_CLIENT } from './dev-callback.js';
import { oidcIssuer } from './routes.js';

export const DEMO_USER = { id: 'demo-clinician', name: 'Dr Demo Clinician', pin: '1234' };
const DEMO_PROFILES = [
  { role: 'R8000', org: 'A81001' },
  { role: 'R8008', org: 'A81001' },
];

/**
 * Makes sure (idempotently) the demo clinician and the development portal exist for `serve --demo`,
 * and returns a one-line hint for signing in by hand: an authorization URL with a fresh PKCE pair.
 */
export async function ensureDemoIdentity(repo: ResourceStore, publicUrl: string): Promise<string> {
  const users = new UserDirectory(repo);
  const existing = await users.get(DEMO_USER.id);
  const missing = DEMO_PROFILES.filter(
    (p) => !existing?.roleProfiles.some((q) => q.role === p.role && q.org === p.org),
  );
  // the passcode is set only on creation, so a changed or revoked demo user stays as the operator left it
  if (!existing || missing.length) {
    await users.add({
      id: DEMO_USER.id,
      name: existing?.name ?? DEMO_USER.name,
      ...(existing?.pinHash ? {} : { pin: DEMO_USER.pin }),
      profiles: missing,
    });
  }
  const redirectUri = `${publicUrl}${DEV_CALLBACK_PATH}`;
  const clients = new ClientRegistry(repo);
  if (!(await clients.get(DEV_PORTAL_CLIENT))) {
    try {
      await clients.add({
        id: DEV_PORTAL_CLIENT,
        name: 'OpenSpine development portal',
        kind: 'portal',
        redirectUris: [redirectUri],
      });
    } catch (err) {
      // another node registered it first; fall through and make sure it has this node's address
      if (!(err instanceof UserInputError)) throw err;
    }
  }
  await clients.addRedirectUri(DEV_PORTAL_CLIENT, redirectUri);
  const verifier = randomToken(32);
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: DEV_PORTAL_CLIENT,
    redirect_uri: redirectUri,
    scope: 'openid profile',
    state: randomToken(8),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  });
  return `Sign in as ${DEMO_USER.id} (PIN ${DEMO_USER.pin}): export CODE_VERIFIER=${verifier}; open ${oidcIssuer(publicUrl)}/authorize?${query}`;
}
