import type { Config, Flags } from '../config.js';
import { loadOrCreateSigningKey, mintToken } from '../security/embedded-idp.js';
import { isKnownRole } from '../security/policy.js';

/** Prints one line: a bearer token from the data directory's development identity provider. */
export async function tokenCommand(config: Config, flags: Flags): Promise<number> {
  const { role, user, org } = flags;
  if (typeof role !== 'string' || typeof user !== 'string' || typeof org !== 'string') {
    console.error('token needs --role CODE --user ID --org ODS');
    return 2;
  }
  if (!isKnownRole(role)) console.error(`warning: role ${role} is not in the RBAC policy table; its token will be refused every activity`);
  if (!/^[A-Z0-9]{3,8}$/i.test(org)) {
    console.error(`--org must be an ODS code, got '${org}'`);
    return 2;
  }
  const ttl = flags.ttl === undefined ? undefined : Number(flags.ttl);
  if (ttl !== undefined && (!Number.isInteger(ttl) || ttl <= 0)) {
    console.error('--ttl must be a positive whole number of seconds');
    return 2;
  }
  const key = await loadOrCreateSigningKey(config.dataDir);
  console.log(await mintToken(key, { userId: user, role, org: org.toUpperCase(), audience: config.audience, ttlSeconds: ttl }));
  return 0;
}
