import type { Repository } from '../store/repository.js';
import type { SignedAuditCheckpoint } from './types.js';
import { ChainVerifier } from './chain.js';
import { checkpointProblem, type StatementVerifier } from './signed-head.js';

// pages small enough that a background walk (the checkpoint signer) never holds the event loop for
// long, with a turn of the loop between pages so requests are served meanwhile
const PAGE = 1000;
const yieldToRequests = () => new Promise<void>((resolve) => setImmediate(resolve));

export interface StoredChainReport {
  ok: boolean;
  /** Entries whose links were recomputed. */
  checked: number;
  /** The seq the walk reached and the hash there. */
  lastSeq: number;
  headHash: string;
  checkpointsVerified: number;
  /** The first problem found: a broken link, a bad checkpoint, or a log shorter than its head. */
  brokenAt?: { seq: number; reason: string };
}

export interface StoredChainOptions {
  /** Start after this signed checkpoint instead of the genesis; its signature is checked first. */
  anchor?: SignedAuditCheckpoint;
  /** Stop at this seq (it must exist) instead of the recorded head. */
  upTo?: number;
  /** Entries read per page; background walks use small pages so requests keep flowing between them. */
  pageSize?: number;
}

/**
 * Recomputes the stored chain page by page and checks every stored signed checkpoint on the way
 * against the recomputed hash at its seq. A checkpoint beyond the end of the log means entries were
 * cut off the end, even if the head row was rewound to match.
 */
export async function verifyStoredChain(
  repo: Pick<Repository, 'audit'>,
  verify: StatementVerifier,
  options: StoredChainOptions = {},
): Promise<StoredChainReport> {
  const { anchor } = options;
  const start = anchor?.seq ?? 0;
  const report = (
    verifier: ChainVerifier,
    checkpointsVerified: number,
    brokenAt?: { seq: number; reason: string },
  ): StoredChainReport => {
    const r = verifier.finish();
    const broken = r.brokenAt ?? brokenAt;
    return {
      ok: !broken,
      checked: r.checked,
      lastSeq: verifier.lastSeq,
      headHash: r.headHash,
      checkpointsVerified,
      brokenAt: broken,
    };
  };
  if (anchor) {
    const problem = await checkpointProblem(verify, anchor, anchor.hash);
    if (problem) return report(new ChainVerifier(), 0, { seq: anchor.seq, reason: problem });
  }
  const verifier = new ChainVerifier(start, anchor?.hash);
  const end = options.upTo ?? (await repo.audit.auditHead()).seq;
  let checkpointsVerified = anchor ? 1 : 0;
  let after = start;
  while (after < end) {
    const page = await repo.audit.readAudit(after, Math.min(options.pageSize ?? PAGE, end - after));
    if (page.length === 0) break;
    const last = page[page.length - 1].seq;
    const checkpoints = new Map(
      (await repo.audit.auditCheckpoints(after + 1, last)).map((c) => [c.seq, c]),
    );
    for (const entry of page) {
      if (!verifier.push(entry)) return report(verifier, checkpointsVerified);
      const checkpoint = checkpoints.get(entry.seq);
      if (!checkpoint) continue;
      const problem = await checkpointProblem(verify, checkpoint, entry.hash);
      if (problem)
        return report(verifier, checkpointsVerified, { seq: entry.seq, reason: problem });
      checkpointsVerified++;
    }
    after = last;
    await yieldToRequests();
  }
  const result = verifier.finish();
  if (verifier.lastSeq < end) {
    return report(verifier, checkpointsVerified, {
      seq: verifier.lastSeq + 1,
      reason: `the log ends at entry ${verifier.lastSeq} but ${options.upTo ? 'entry ' + end + ' was asked for' : 'the recorded chain head is entry ' + end} (entries removed from the end)`,
    });
  }
  if (options.upTo === undefined) {
    const head = await repo.audit.auditHead();
    // a checkpoint past the walk is fine if its entry exists (appended meanwhile), not if it is gone
    const latest = await repo.audit.latestAuditCheckpoint();
    if (
      latest &&
      latest.seq > verifier.lastSeq &&
      (await repo.audit.readAuditEntries([latest.seq])).length === 0
    ) {
      return report(verifier, checkpointsVerified, {
        seq: verifier.lastSeq + 1,
        reason: `a checkpoint was signed at entry ${latest.seq} on ${latest.time} but the log ends at entry ${verifier.lastSeq} (entries removed from the end)`,
      });
    }
    if (head.seq === verifier.lastSeq && head.hash !== result.headHash) {
      return report(verifier, checkpointsVerified, {
        seq: head.seq,
        reason: 'the recorded chain head hash does not match the last entry',
      });
    }
  }
  return report(verifier, checkpointsVerified);
}
