import { CompactSign, compactVerify, importJWK, type JWK } from 'jose';
import { TOKEN_ALG, type SigningKey } from '../../security/embedded-idp.js';

/**
 * Signatures of rest-hook deliveries: a compact JWS with a detached payload (RFC 7515 appendix F),
 * `<protected header>..<signature>`, made with the platform's signing key (the key published at
 * /.well-known/jwks.json, found by the header's kid). The payload it signs is the exact bytes of the
 * HTTP body; a receiver puts the base64url of the body between the two dots and verifies as usual.
 * The protected header also names the subscription and the Bundle, so a signed body cannot be
 * replayed to another subscription unnoticed.
 */

export const SIGNATURE_HEADER = 'x-signature';

const keys = new WeakMap<SigningKey, ReturnType<typeof importJWK>>();

function privateKey(key: SigningKey): ReturnType<typeof importJWK> {
  let imported = keys.get(key);
  if (!imported) {
    imported = importJWK(key.privateJwk, TOKEN_ALG);
    keys.set(key, imported);
  }
  return imported;
}

export async function signDelivery(
  key: SigningKey,
  body: string,
  claims: { subscription: string; bundle: string },
): Promise<string> {
  const jws = await new CompactSign(new TextEncoder().encode(body))
    .setProtectedHeader({
      alg: TOKEN_ALG,
      kid: key.kid,
      typ: 'JOSE',
      cty: 'application/fhir+json',
      iat: Math.floor(Date.now() / 1000),
      sub: claims.subscription,
      bundle: claims.bundle,
    })
    .sign(await privateKey(key));
  const [header, , signature] = jws.split('.');
  return `${header}..${signature}`;
}

/** What a receiver does: checks a detached signature over the body with a key of the published set. */
export async function verifyDelivery(
  signature: string,
  body: string,
  jwks: { keys: JWK[] },
): Promise<Record<string, unknown>> {
  const [header, empty, sig] = signature.split('.');
  if (!header || empty !== '' || !sig) throw new Error('not a detached compact JWS');
  const { kid } = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as { kid?: string };
  const jwk = jwks.keys.find((k) => k.kid === kid);
  if (!jwk) throw new Error(`no published key with kid ${kid}`);
  const { protectedHeader } = await compactVerify(
    `${header}.${Buffer.from(body, 'utf8').toString('base64url')}.${sig}`,
    await importJWK(jwk, TOKEN_ALG),
    { algorithms: [TOKEN_ALG] },
  );
  return protectedHeader as Record<string, unknown>;
}
