import { CompactSign, compactVerify, createLocalJWKSet, importJWK, type JWK } from 'jose';
import type { SigningKey } from '../security/embedded-idp.js';

/**
 * Signed statements about the audit chain, as compact JWS. The server's one ES256 key also signs
 * access tokens, so each statement carries its own `typ`: a checkpoint can never pass as a token
 * (it has no issuer, audience or expiry) nor a token as a checkpoint, nor one statement as the other.
 */
export const CHECKPOINT_TYP = 'openspine-audit-checkpoint+json';
export const EXPORT_HEAD_TYP = 'openspine-audit-export+json';
const ALG = 'ES256';

/** A stored checkpoint's payload: the chain head as it stood at `time`. */
export interface CheckpointClaims {
  seq: number;
  hash: string;
  time: string;
}

/** An export's signed head: the range [from, seq], the hash before `from` and the hash at `seq`. */
export interface ExportHeadClaims extends CheckpointClaims {
  from: number;
  prevHash: string;
}

export async function signStatement(key: SigningKey, typ: string, claims: object): Promise<string> {
  const privateKey = await importJWK(key.privateJwk, ALG);
  return new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader({ alg: ALG, kid: key.kid, typ })
    .sign(privateKey);
}

/** A verifier over a fixed set of public keys (a JWKS document's keys, or one JWK). */
export type StatementVerifier = (
  jws: string,
  typ: string,
) => Promise<{ claims: Record<string, unknown> } | { error: string }>;

export function statementVerifier(keys: JWK[]): StatementVerifier {
  const keySet = createLocalJWKSet({ keys: keys.map(({ d: _d, ...pub }) => pub) });
  return async (jws, typ) => {
    let result;
    try {
      result = await compactVerify(jws, keySet, { algorithms: [ALG] });
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ERR_JWKS_NO_MATCHING_KEY')
        return { error: 'it was signed by a key that is not in the given key set' };
      if (code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED')
        return { error: 'its signature does not verify with the given key' };
      return { error: `it is not a valid compact JWS (${(err as Error).message})` };
    }
    if (result.protectedHeader.typ !== typ)
      return { error: `it is a '${String(result.protectedHeader.typ)}' statement, not '${typ}'` };
    try {
      const claims = JSON.parse(new TextDecoder().decode(result.payload)) as unknown;
      if (!claims || typeof claims !== 'object' || Array.isArray(claims))
        return { error: 'its payload is not a JSON object' };
      return { claims: claims as Record<string, unknown> };
    } catch {
      return { error: 'its payload is not JSON' };
    }
  };
}

/**
 * What is wrong with a stored checkpoint, or null when it holds: its signature verifies, its signed
 * claims are the stored {seq, hash, time}, and the chain's hash at that seq is the signed hash.
 */
export async function checkpointProblem(
  verify: StatementVerifier,
  checkpoint: CheckpointClaims & { jws: string },
  chainHashAtSeq: string,
): Promise<string | null> {
  const result = await verify(checkpoint.jws, CHECKPOINT_TYP);
  if ('error' in result)
    return `the signed checkpoint at entry ${checkpoint.seq} is not valid: ${result.error}`;
  const { seq, hash, time } = result.claims;
  if (seq !== checkpoint.seq || hash !== checkpoint.hash || time !== checkpoint.time) {
    return `the signed checkpoint at entry ${checkpoint.seq} does not match its stored seq, hash and time`;
  }
  if (hash !== chainHashAtSeq) {
    return `the signed checkpoint at entry ${checkpoint.seq} (${checkpoint.time}) does not match the chain there: entries up to ${checkpoint.seq} were changed after it was signed`;
  }
  return null;
}
