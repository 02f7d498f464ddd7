import { readFileSync } from 'node:fs';
import type { JWK } from 'jose';
import type { Config } from '../config.js';
import { ClientRegistry } from '../security/accounts/clients.js';
import { RevocationList } from '../security/accounts/revocations.js';
import { UserInputError } from '../security/accounts/users.js';
import { operator, option, withAccountStore, type CliValues } from './users.js';

/** Reads --jwks FILE: a JWK set, or one JWK (wrapped into a set). */
function readJwks(file: string): { keys: JWK[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UserInputError(
      `--jwks ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : 'not a JSON file'}`,
    );
  }
  if (parsed && typeof parsed === 'object' && Array.isArray((parsed as { keys?: unknown }).keys))
    return parsed as { keys: JWK[] };
  if (parsed && typeof parsed === 'object' && typeof (parsed as JWK).kty === 'string')
    return { keys: [parsed as JWK] };
  throw new UserInputError(`--jwks ${file} is neither a JWK set nor a JWK`);
}

function redirectUris(values: CliValues): string[] {
  const raw = values['redirect-uri'];
  if (raw === undefined) return [];
  if (!Array.isArray(raw) || raw.some((v) => typeof v !== 'string'))
    throw new UserInputError('--redirect-uri needs a URL');
  return raw as string[];
}

/** `openspine app add|list|revoke`: portals (sign-in with PKCE) and applications (client credentials). */
export async function appCommand(
  config: Config,
  args: string[],
  values: CliValues,
): Promise<number> {
  const [sub, target] = args;
  if (sub !== 'add' && sub !== 'list' && sub !== 'revoke') {
    console.error(`app needs add, list or revoke, got '${sub ?? ''}'`);
    return 2;
  }
  return withAccountStore(config, async (repo, audit) => {
    const clients = new ClientRegistry(repo);
    if (sub === 'list') {
      const all = await clients.list();
      if (all.length === 0) console.log('no clients');
      for (const c of all) {
        const auth = [
          c.jwks ? 'private_key_jwt' : '',
          c.secretHash ? 'client_secret' : '',
          !c.jwks && !c.secretHash ? 'public (PKCE)' : '',
        ]
          .filter(Boolean)
          .join('+');
        const extra =
          c.kind === 'portal'
            ? `redirect: ${c.redirectUris.join(' ')}`
            : `scopes: ${c.scopes.join(',') || '(none)'}\t${c.accessMode ?? 'application-restricted'}`;
        console.log(
          `${c.id}\t${c.name}\t${c.kind}\t${c.status}\t${c.org || '-'}\t${auth}\t${extra}`,
        );
      }
      return 0;
    }
    if (sub === 'add') {
      const name = option(values, 'name');
      const kind = option(values, 'kind');
      if (!name) throw new UserInputError('app add needs --name NAME');
      if (kind !== 'application' && kind !== 'portal')
        throw new UserInputError('app add needs --kind application or --kind portal');
      const jwksFile = option(values, 'jwks');
      const scopes = option(values, 'scopes')
        ?.split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const { client, secret } = await clients.add({
        id: option(values, 'id'),
        name,
        kind,
        org: option(values, 'org'),
        scopes,
        redirectUris: redirectUris(values),
        accessMode: option(values, 'access-mode'),
        ...(jwksFile ? { jwks: readJwks(jwksFile) } : {}),
        withSecret: values.secret === true,
      });
      await audit('client.add', 'added', {
        subject: client.id,
        kind,
        scopes: client.scopes,
        org: client.org,
        keys: client.jwks?.keys.length ?? 0,
        secret: secret !== undefined,
      });
      console.log(`client id: ${client.id}`);
      if (secret)
        console.log(`client secret: ${secret}\n(shown once: store it now; only its hash is kept)`);
      return 0;
    }
    if (!target) throw new UserInputError('app revoke needs the client ID');
    if (!(await clients.markRevoked(target))) throw new UserInputError(`no client ${target}`);
    await new RevocationList(repo, 0).revoke(
      { client: target },
      'revoked by an administrator',
      operator(),
    );
    await audit('client.revoke', 'revoked', { subject: target });
    console.log(
      `revoked client ${target}; running servers refuse its tokens within their revocation cache time (default 1 s)`,
    );
    return 0;
  });
}
