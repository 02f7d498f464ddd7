import { calculateJwkThumbprint, compactVerify, importJWK, type JWK } from 'jose';
import { FhirError } from '../../fhir/errors.js';
import type { AuditRecord } from '../../audit/types.js';
import { resourceType, type ResourceStore } from '../../store/resource-store.js';

/**
 * Prescribers' public signing keys, one resource each (type 'PrescriberKey', id = the JWK
 * thumbprint, which is also the `kid` the signer puts in the JWS header). Registered with
 * `openspine prescriber key add`; a signature verifies only with an active key of the user who
 * submits the prescription.
 */
export const PRESCRIBER_KEY = resourceType<PrescriberKey>('PrescriberKey');
export const SIGNING_ALGORITHMS = ['ES256', 'RS256'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

export interface PrescriberKey {
  resourceType: typeof PRESCRIBER_KEY;
  id: string;
  userId: string;
  alg: SigningAlgorithm;
  jwk: JWK;
  status: 'active' | 'revoked';
  added: string;
  revoked?: string;
}

export class PrescriberKeyError extends Error {}

/** Only the public members of a key: a private key handed over by mistake is refused, not stored. */
function publicJwk(jwk: JWK): { jwk: JWK; alg: SigningAlgorithm } {
  if (jwk.d || jwk.p || jwk.q)
    throw new PrescriberKeyError('the JWK holds a private key; register the public key only');
  if (jwk.kty === 'EC' && jwk.crv === 'P-256' && jwk.x && jwk.y)
    return { jwk: { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }, alg: 'ES256' };
  if (jwk.kty === 'RSA' && jwk.n && jwk.e) {
    if (Buffer.from(jwk.n, 'base64url').length < 256)
      throw new PrescriberKeyError('RSA keys must be at least 2048 bits');
    return { jwk: { kty: 'RSA', n: jwk.n, e: jwk.e }, alg: 'RS256' };
  }
  throw new PrescriberKeyError('the JWK must be an EC P-256 (ES256) or RSA (RS256) public key');
}

export async function addPrescriberKey(
  repo: ResourceStore,
  userId: string,
  input: JWK,
  audit: AuditRecord[] = [],
): Promise<{ key: PrescriberKey; added: boolean }> {
  if (!/^[A-Za-z0-9._@:-]{1,128}$/.test(userId))
    throw new PrescriberKeyError(`'${userId.slice(0, 40)}' is not a user id`);
  const { jwk, alg } = publicJwk(input);
  const id = await calculateJwkThumbprint(jwk);
  await importJWK(jwk, alg); // refuses a key that is not a usable point or modulus
  const existing = await repo.read(PRESCRIBER_KEY, id);
  if (existing) {
    const key = existing.resource;
    if (key.userId !== userId)
      throw new PrescriberKeyError(`this key is already registered to another user`);
    if (key.status === 'active') return { key, added: false };
  }
  const key: PrescriberKey = {
    resourceType: PRESCRIBER_KEY,
    id,
    userId,
    alg,
    jwk,
    status: 'active',
    added: new Date().toISOString(),
  };
  await repo.commit({
    resources: [
      {
        type: PRESCRIBER_KEY,
        id,
        expectedVersion: existing?.version ?? 0,
        resource: key,
        index: [{ param: 'user', value: userId }],
      },
    ],
    audit,
  });
  return { key, added: true };
}

export async function revokePrescriberKey(
  repo: ResourceStore,
  id: string,
  audit: AuditRecord[] = [],
): Promise<PrescriberKey | null> {
  const stored = await repo.read(PRESCRIBER_KEY, id);
  if (!stored || stored.resource.status !== 'active') return null;
  const key: PrescriberKey = {
    ...stored.resource,
    status: 'revoked',
    revoked: new Date().toISOString(),
  };
  await repo.commit({
    resources: [
      {
        type: PRESCRIBER_KEY,
        id,
        expectedVersion: stored.version,
        resource: key,
        index: [{ param: 'user', value: key.userId }],
      },
    ],
    audit,
  });
  return key;
}

export async function listPrescriberKeys(
  repo: ResourceStore,
  userId?: string,
): Promise<PrescriberKey[]> {
  const criteria = userId
    ? [{ any: [{ param: 'user', op: 'eq' as const, value: userId }] }]
    : [{ any: [{ param: 'user', op: 'prefix' as const, value: '' }] }];
  const ids = await repo.search({ type: PRESCRIBER_KEY, criteria, limit: 1000 });
  return (await repo.readMany(PRESCRIBER_KEY, ids)).map((s) => s.resource);
}

/** Imported keys by id and version: importing costs more than the read that says which version is current. */
const imported = new Map<string, CryptoKey | Uint8Array>();

/**
 * Verifies a compact JWS from a Provenance signature and returns its payload (the digest the
 * prescriber signed). The key is the one its header names, and must be active and belong to `userId`.
 */
export async function verifyPrescriberSignature(
  repo: ResourceStore,
  userId: string,
  jws: string,
): Promise<{ payload: string; keyId: string }> {
  const parts = jws.split('.');
  if (parts.length !== 3)
    throw new FhirError(400, 'INVALID_SIGNATURE', 'The signature is not a compact JWS');
  let header: { alg?: string; kid?: string };
  try {
    header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
  } catch {
    throw new FhirError(400, 'INVALID_SIGNATURE', 'The JWS header is not valid JSON');
  }
  if (!SIGNING_ALGORITHMS.includes(header.alg as SigningAlgorithm))
    throw new FhirError(
      400,
      'INVALID_SIGNATURE',
      `The JWS algorithm must be ES256 or RS256, not '${String(header.alg).slice(0, 20)}'`,
    );
  if (typeof header.kid !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(header.kid))
    throw new FhirError(
      400,
      'INVALID_SIGNATURE',
      'The JWS header must name the signing key (kid: its JWK thumbprint)',
    );
  const stored = await repo.read(PRESCRIBER_KEY, header.kid);
  const key = stored?.resource;
  if (!stored || !key || key.status !== 'active' || key.userId !== userId) {
    throw new FhirError(
      403,
      'UNKNOWN_PRESCRIBER_KEY',
      `Key '${header.kid}' is not an active signing key registered to user ${userId}`,
    );
  }
  if (header.alg !== key.alg)
    throw new FhirError(
      400,
      'INVALID_SIGNATURE',
      `Key '${key.id}' signs with ${key.alg}, not ${header.alg}`,
    );
  const cacheKey = `${key.id}@${stored.version}`;
  let publicKey = imported.get(cacheKey);
  if (!publicKey) {
    publicKey = (await importJWK(key.jwk, key.alg)) as CryptoKey | Uint8Array;
    imported.set(cacheKey, publicKey);
  }
  try {
    const { payload } = await compactVerify(jws, publicKey, { algorithms: [key.alg] });
    return { payload: new TextDecoder().decode(payload), keyId: key.id };
  } catch {
    throw new FhirError(
      400,
      'INVALID_SIGNATURE',
      "The signature does not verify with the prescriber's registered key",
    );
  }
}
