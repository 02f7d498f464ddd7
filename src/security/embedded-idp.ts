import { existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';

/** Tokens minted by the development identity provider of a data directory carry this issuer. */
export const EMBEDDED_ISSUER = 'urn:openspine:embedded-idp';
export const TOKEN_ALG = 'ES256';

export interface SigningKey {
  privateJwk: JWK;
  publicJwk: JWK;
  kid: string;
}

/**
 * Loads the identity provider's signing key from <dataDir>/keys, creating it on first use.
 * The private key file is readable by its owner only.
 */
export async function loadOrCreateSigningKey(dataDir: string): Promise<SigningKey> {
  const dir = join(dataDir, 'keys');
  const file = join(dir, 'idp-signing-key.json');
  const load = (): SigningKey => {
    const privateJwk = JSON.parse(readFileSync(file, 'utf8')) as JWK;
    const { d: _d, ...publicJwk } = privateJwk;
    return { privateJwk, publicJwk, kid: privateJwk.kid as string };
  };
  if (existsSync(file)) return load();
  mkdirSync(dir, { recursive: true });
  const { privateKey, publicKey } = await generateKeyPair(TOKEN_ALG, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: TOKEN_ALG, use: 'sig' };
  // write a private temp file, then link it into place: the key file appears whole or not at all,
  // and when two processes race on a new data directory the first link wins and both use its key
  const temp = `${file}.${process.pid}.${randomUUID()}.tmp`;
  writeFileSync(temp, JSON.stringify(privateJwk), { mode: 0o600 });
  try {
    linkSync(temp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return load();
  } finally {
    unlinkSync(temp);
  }
  return { privateJwk, publicJwk: { ...publicJwk, kid, alg: TOKEN_ALG, use: 'sig' }, kid };
}

export interface TokenRequest {
  userId: string;
  role: string;
  org: string;
  audience: string;
  ttlSeconds?: number;
}

/** Mints a bearer token for a user's selected role profile (12 hours by default, as a smartcard session). */
export async function mintToken(key: SigningKey, req: TokenRequest): Promise<string> {
  const privateKey = await importJWK(key.privateJwk, TOKEN_ALG);
  return new SignJWT({ role: req.role, org: req.org, sid: randomUUID() })
    .setProtectedHeader({ alg: TOKEN_ALG, kid: key.kid, typ: 'JWT' })
    .setIssuer(EMBEDDED_ISSUER)
    .setSubject(req.userId)
    .setAudience(req.audience)
    .setIssuedAt()
    .setNotBefore('0s')
    .setJti(randomUUID())
    .setExpirationTime(`${req.ttlSeconds ?? 12 * 3600}s`)
    .sign(privateKey);
}
