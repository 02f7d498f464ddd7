import { FhirError } from '../fhir/errors.js';
import type { SigningKey } from '../security/embedded-idp.js';
import type { Repository } from '../store/repository.js';
import { EXPORT_FORMAT, type AuditExportDocument } from './export-verifier.js';
import {
  EXPORT_HEAD_TYP,
  signStatement,
  type ExportHeadClaims,
  type StatementVerifier,
} from './signed-head.js';
import { verifyStoredChain } from './store-verifier.js';

/** One export holds at most this many entries; larger ranges are exported in parts. */
export const MAX_EXPORT_ENTRIES = 100_000;

/** The range of an export request: `from` defaults to 1 and `to` to the current head. */
export function exportRange(
  query: Record<string, unknown>,
  headSeq: number,
): { from: number; to: number } {
  for (const name of Object.keys(query)) {
    if (name !== 'from' && name !== 'to')
      throw new FhirError(
        400,
        'INVALID_SEARCH_DATA',
        `Unknown parameter '${name}'; $export takes from and to (entry numbers)`,
      );
  }
  const num = (name: 'from' | 'to', fallback: number): number => {
    const raw = query[name];
    if (raw === undefined) return fallback;
    if (typeof raw !== 'string' || !/^\d{1,15}$/.test(raw))
      throw new FhirError(
        400,
        'INVALID_SEARCH_DATA',
        `Parameter '${name}' must be one whole number`,
      );
    return Number(raw);
  };
  if (headSeq === 0) throw new FhirError(404, 'RESOURCE_NOT_FOUND', 'The audit log is empty');
  const from = num('from', 1);
  const to = num('to', headSeq);
  if (from < 1 || to < from)
    throw new FhirError(
      400,
      'INVALID_SEARCH_DATA',
      `The range ${from}..${to} is empty: need 1 <= from <= to`,
    );
  if (to > headSeq)
    throw new FhirError(
      400,
      'INVALID_SEARCH_DATA',
      `Parameter 'to' (${to}) is beyond the last audit entry (${headSeq})`,
    );
  if (to - from + 1 > MAX_EXPORT_ENTRIES)
    throw new FhirError(
      400,
      'INVALID_SEARCH_DATA',
      `At most ${MAX_EXPORT_ENTRIES} entries per export; split the range`,
    );
  return { from, to };
}

/**
 * Builds a self-verifying export of entries from..to. The stored chain is checked first, from the
 * last signed checkpoint before the range, so the server never signs over a chain already broken.
 */
export async function buildAuditExport(
  repo: Repository,
  key: SigningKey,
  verify: StatementVerifier,
  from: number,
  to: number,
): Promise<AuditExportDocument> {
  const anchor = await repo.audit.latestAuditCheckpoint(from);
  const check = await verifyStoredChain(repo, verify, { anchor: anchor ?? undefined, upTo: to });
  if (!check.ok) {
    throw new FhirError(
      409,
      'PRECONDITION_FAILED',
      `The stored audit chain is broken at entry ${check.brokenAt!.seq} (${check.brokenAt!.reason}); it will not be signed for export. Run AuditEvent/$verify.`,
    );
  }
  const entries: AuditExportDocument['entries'] = [];
  for (let after = from - 1; after < to;) {
    const page = await repo.audit.readAudit(after, Math.min(10_000, to - after));
    if (page.length === 0) break;
    for (const e of page)
      entries.push({ seq: e.seq, recordJson: e.recordJson, prevHash: e.prevHash, hash: e.hash });
    after = page[page.length - 1].seq;
  }
  const last = entries[entries.length - 1];
  const claims: ExportHeadClaims = {
    from,
    prevHash: entries[0].prevHash,
    seq: to,
    hash: last.hash,
    time: new Date().toISOString(),
  };
  return {
    format: EXPORT_FORMAT,
    from,
    to,
    entries,
    signedHead: await signStatement(key, EXPORT_HEAD_TYP, claims),
    checkpoints: await repo.audit.auditCheckpoints(from, to),
    publicJwk: key.publicJwk,
  };
}
