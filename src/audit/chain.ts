import * as crypto from 'node:crypto';
import type { AuditEntry } from './types.js';

/** The hash before the first entry of every chain. */
export const GENESIS_HASH = '0'.repeat(64);

/** One-shot hashing (Node 20.12+): about half the cost of a Hash object for inputs this small. */
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string })
  .hash;

/**
 * Each entry's hash covers the previous hash, its sequence number and the exact JSON text stored for
 * it, so a verifier needs only the stored rows (and no agreement on how to serialise a record).
 */
export function chainHash(prevHash: string, seq: number, recordJson: string): string {
  const input = `${prevHash}\n${seq}\n${recordJson}`;
  return oneShot
    ? oneShot('sha256', input, 'hex')
    : crypto.createHash('sha256').update(input).digest('hex');
}

export interface ChainVerification {
  ok: boolean;
  checked: number;
  /** The first entry whose link does not hold, when ok is false. */
  brokenAt?: { seq: number; reason: string };
  headHash: string;
}

/**
 * Streams entries in order through the verifier; call finish() at the end. It starts at the genesis
 * by default, or after a trusted point of the chain (a verified signed checkpoint, an export's signed start).
 */
export class ChainVerifier {
  private prevHash: string;
  private expectedSeq: number;
  private checked = 0;
  private broken: ChainVerification['brokenAt'];

  constructor(afterSeq = 0, hashAfter = GENESIS_HASH) {
    this.expectedSeq = afterSeq + 1;
    this.prevHash = hashAfter;
  }

  /** The seq of the last entry that held (afterSeq when none yet). */
  get lastSeq(): number {
    return this.expectedSeq - 1;
  }

  push(entry: Pick<AuditEntry, 'seq' | 'recordJson' | 'prevHash' | 'hash'>): boolean {
    if (this.broken) return false;
    if (entry.seq !== this.expectedSeq) {
      this.broken = {
        seq: entry.seq,
        reason: `expected entry ${this.expectedSeq}, found ${entry.seq} (an entry was removed or reordered)`,
      };
      return false;
    }
    if (entry.prevHash !== this.prevHash) {
      this.broken = {
        seq: entry.seq,
        reason: 'previous-hash link does not match the entry before it',
      };
      return false;
    }
    if (chainHash(entry.prevHash, entry.seq, entry.recordJson) !== entry.hash) {
      this.broken = { seq: entry.seq, reason: 'entry content does not match its hash (modified)' };
      return false;
    }
    this.prevHash = entry.hash;
    this.expectedSeq++;
    this.checked++;
    return true;
  }

  finish(): ChainVerification {
    return {
      ok: !this.broken,
      checked: this.checked,
      brokenAt: this.broken,
      headHash: this.prevHash,
    };
  }
}
