import { createHash } from 'node:crypto';
import type { AuditEntry, AuditRecord } from '../store/types.js';

/** The hash before the first entry of every chain. */
export const GENESIS_HASH = '0'.repeat(64);

/** JSON with object keys sorted, so the same record always hashes the same on any store. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return '[' + value.map(canonicalJson).join(',') + ']';
  const keys = Object.keys(value as object).filter((k) => (value as any)[k] !== undefined).sort();
  return '{' + keys.map((k) => JSON.stringify(k) + ':' + canonicalJson((value as any)[k])).join(',') + '}';
}

/** Each entry's hash covers its sequence number, its record and the previous hash. */
export function chainHash(prevHash: string, seq: number, record: AuditRecord): string {
  return createHash('sha256').update(prevHash).update('\n').update(String(seq)).update('\n').update(canonicalJson(record)).digest('hex');
}

export interface ChainVerification {
  ok: boolean;
  checked: number;
  /** The first entry whose link does not hold, when ok is false. */
  brokenAt?: { seq: number; reason: string };
  headHash: string;
}

/** Streams entries in order through the verifier; call finish() at the end. */
export class ChainVerifier {
  private prevHash = GENESIS_HASH;
  private expectedSeq = 1;
  private checked = 0;
  private broken: ChainVerification['brokenAt'];

  push(entry: AuditEntry): boolean {
    if (this.broken) return false;
    if (entry.seq !== this.expectedSeq) {
      this.broken = { seq: entry.seq, reason: `expected entry ${this.expectedSeq}, found ${entry.seq} (an entry was removed or reordered)` };
      return false;
    }
    if (entry.prevHash !== this.prevHash) {
      this.broken = { seq: entry.seq, reason: 'previous-hash link does not match the entry before it' };
      return false;
    }
    if (chainHash(entry.prevHash, entry.seq, entry.record) !== entry.hash) {
      this.broken = { seq: entry.seq, reason: 'entry content does not match its hash (modified)' };
      return false;
    }
    this.prevHash = entry.hash;
    this.expectedSeq++;
    this.checked++;
    return true;
  }

  finish(): ChainVerification {
    return { ok: !this.broken, checked: this.checked, brokenAt: this.broken, headHash: this.prevHash };
  }
}
