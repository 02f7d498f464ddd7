import type { JWK } from 'jose';
import { ChainVerifier } from './chain.js';
import { checkpointProblem, EXPORT_HEAD_TYP, statementVerifier } from './signed-head.js';

/**
 * Offline verification of an audit export with nothing but the server's public key: no store, no
 * network, no trust in anything the document says about itself (its embedded public key included).
 * The signed head fixes the range [from, to], the hash before `from` and the hash at `to`; the
 * entries must chain exactly from one to the other, and every enclosed checkpoint must be a valid
 * signature over the recomputed hash at its seq.
 */

export const EXPORT_FORMAT = 'openspine-audit-export/1';

export interface ExportedEntry {
  seq: number;
  recordJson: string;
  prevHash: string;
  hash: string;
}
export interface ExportedCheckpoint {
  seq: number;
  hash: string;
  time: string;
  jws: string;
}

export interface AuditExportDocument {
  format: typeof EXPORT_FORMAT;
  from: number;
  to: number;
  entries: ExportedEntry[];
  /** Compact JWS over {from, prevHash, seq: to, hash, time}, signed when the export was made. */
  signedHead: string;
  /** The server's stored signed checkpoints with from <= seq <= to. */
  checkpoints: ExportedCheckpoint[];
  /** For convenience only: a verifier must use a key obtained independently. */
  publicJwk: JWK;
}

export interface ExportVerification {
  ok: boolean;
  entriesVerified: number;
  checkpointsVerified: number;
  /** The signed range and signing time, once the signed head verified. */
  signed?: { from: number; to: number; hash: string; time: string };
  /** The first entry that does not hold, when the failure is in the entries. */
  brokenAt?: number;
  reason?: string;
}

const isEntry = (e: unknown): e is ExportedEntry => {
  const x = e as ExportedEntry;
  return (
    !!x &&
    typeof x === 'object' &&
    Number.isSafeInteger(x.seq) &&
    typeof x.recordJson === 'string' &&
    typeof x.prevHash === 'string' &&
    typeof x.hash === 'string'
  );
};
const isCheckpoint = (c: unknown): c is ExportedCheckpoint => {
  const x = c as ExportedCheckpoint;
  return (
    !!x &&
    typeof x === 'object' &&
    Number.isSafeInteger(x.seq) &&
    typeof x.hash === 'string' &&
    typeof x.time === 'string' &&
    typeof x.jws === 'string'
  );
};

/** Keys from a JWKS document ({keys: [...]}) or a single JWK. */
export function keysOf(jwks: unknown): JWK[] {
  const doc = jwks as { keys?: unknown; kty?: unknown } | null;
  if (doc && Array.isArray(doc.keys)) return doc.keys as JWK[];
  if (doc && typeof doc.kty === 'string') return [doc as JWK];
  throw new Error('the key file is neither a JWK set ({"keys": [...]}) nor a JWK');
}

export async function verifyAuditExport(doc: unknown, keys: JWK[]): Promise<ExportVerification> {
  const fail = (reason: string, extra: Partial<ExportVerification> = {}): ExportVerification => ({
    ok: false,
    entriesVerified: 0,
    checkpointsVerified: 0,
    reason,
    ...extra,
  });
  const d = doc as Partial<AuditExportDocument> | null;
  if (!d || typeof d !== 'object' || d.format !== EXPORT_FORMAT)
    return fail(`not an audit export (format ${EXPORT_FORMAT})`);
  if (
    !Array.isArray(d.entries) ||
    !Array.isArray(d.checkpoints) ||
    typeof d.signedHead !== 'string'
  ) {
    return fail('the export lacks its entries, checkpoints or signed head');
  }
  const verify = statementVerifier(keys);
  const head = await verify(d.signedHead, EXPORT_HEAD_TYP);
  if ('error' in head) return fail(`bad signature: the signed head is not valid: ${head.error}`);
  const { from, prevHash, seq: to, hash, time } = head.claims;
  if (
    !Number.isSafeInteger(from) ||
    !Number.isSafeInteger(to) ||
    typeof prevHash !== 'string' ||
    typeof hash !== 'string' ||
    typeof time !== 'string' ||
    (from as number) < 1 ||
    (to as number) < (from as number)
  ) {
    return fail('bad signature: the signed head does not state a range');
  }
  const signed = { from: from as number, to: to as number, hash, time };

  // the checkpoints are checked as the chain reaches them, so a rewrite is located at the first
  // checkpoint it contradicts even when the entries were re-hashed to be self-consistent
  const checkpoints = new Map<number, ExportedCheckpoint>();
  for (const c of d.checkpoints) {
    if (!isCheckpoint(c)) return fail('a checkpoint in the export is malformed', { signed });
    if (c.seq < signed.from || c.seq > signed.to)
      return fail(
        `the checkpoint at entry ${c.seq} lies outside the signed range ${signed.from}..${signed.to}`,
        { signed },
      );
    checkpoints.set(c.seq, c);
  }
  const chain = new ChainVerifier(signed.from - 1, prevHash);
  let checkpointsVerified = 0;
  const broken = (seq: number, reason: string) =>
    fail(reason, {
      signed,
      brokenAt: seq,
      entriesVerified: chain.finish().checked,
      checkpointsVerified,
    });
  for (const entry of d.entries) {
    if (!isEntry(entry))
      return broken(chain.lastSeq + 1, `the entry after ${chain.lastSeq} is malformed`);
    if (!chain.push(entry)) {
      const b = chain.finish().brokenAt!;
      // a gap or a swap is reported at the seq that should have come next
      return broken(entry.seq === chain.lastSeq + 1 ? b.seq : chain.lastSeq + 1, b.reason);
    }
    const checkpoint = checkpoints.get(entry.seq);
    if (checkpoint) {
      const problem = await checkpointProblem(verify, checkpoint, entry.hash);
      if (problem) return broken(entry.seq, problem);
      checkpointsVerified++;
    }
  }
  const result = chain.finish();
  if (chain.lastSeq < signed.to) {
    return broken(
      chain.lastSeq + 1,
      `the export stops at entry ${chain.lastSeq} but the signed head is entry ${signed.to} (entries dropped)`,
    );
  }
  if (chain.lastSeq > signed.to)
    return broken(signed.to + 1, `the export goes past the signed head (entry ${signed.to})`);
  if (result.headHash !== signed.hash) {
    return broken(
      signed.to,
      `the entries do not chain to the signed head hash at entry ${signed.to}: entries were changed and re-hashed`,
    );
  }
  if (checkpointsVerified !== checkpoints.size)
    return fail('a checkpoint does not match any exported entry', { signed });
  return { ok: true, entriesVerified: result.checked, checkpointsVerified, signed };
}
