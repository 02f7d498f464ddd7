import { historicPublicJwks, type SigningKey } from '../security/signing-keys.js';
import type { Repository } from '../store/repository.js';
import type { SignedAuditCheckpoint } from './types.js';
import {
  CHECKPOINT_TYP,
  signStatement,
  statementVerifier,
  type CheckpointClaims,
  type StatementVerifier,
} from './signed-head.js';
import { verifyStoredChain } from './store-verifier.js';

/**
 * Signs the audit chain head with the server's key and stores the signed checkpoint, when the head
 * has moved since the last checkpoint. A checkpoint pins the chain up to its seq: rewriting or
 * cutting off those entries afterwards (even with the head row rewritten to match) is detectable by
 * anyone holding the public key. Several nodes may tick at once; the first checkpoint of a seq stays.
 */
export class AuditCheckpointSigner {
  private readonly verify: StatementVerifier;

  constructor(
    private readonly repo: Repository,
    private readonly key: SigningKey,
  ) {
    // the latest checkpoint may have been signed by a key retired since (openspine keys rotate)
    this.verify = statementVerifier(historicPublicJwks(key));
  }

  /** One round: the stored checkpoint, or null when the head has not moved (or another node signed it). */
  async tick(now: Date = new Date()): Promise<SignedAuditCheckpoint | null> {
    const head = await this.repo.audit.auditHead();
    if (head.seq === 0) return null;
    const latest = await this.repo.audit.latestAuditCheckpoint();
    if (latest && latest.seq >= head.seq) return null;
    // the entries since the last checkpoint are recomputed first: a broken chain is never signed
    // small pages: this runs in the background of a busy server and must not hold up its requests
    const check = await verifyStoredChain(this.repo, this.verify, {
      anchor: latest ?? undefined,
      upTo: head.seq,
      pageSize: 100,
    });
    if (!check.ok)
      throw new Error(
        `audit chain broken at entry ${check.brokenAt!.seq} (${check.brokenAt!.reason}): not signing a checkpoint`,
      );
    if (check.headHash !== head.hash)
      throw new Error(
        `audit chain head row does not match entry ${head.seq}: not signing a checkpoint`,
      );
    const claims: CheckpointClaims = { seq: head.seq, hash: head.hash, time: now.toISOString() };
    const checkpoint = { ...claims, jws: await signStatement(this.key, CHECKPOINT_TYP, claims) };
    return (await this.repo.audit.saveAuditCheckpoint(checkpoint)) ? checkpoint : null;
  }
}
