import type { Bundle, BundleLink } from 'fhir/r4.js';
import { FhirError } from '../fhir/errors.js';
import type { AuditEntry } from './types.js';
import type { Repository } from '../store/repository.js';
import { toAuditEvent, type AuditView } from './audit-event.js';
import { USER_TYPE, type SecurityUser } from '../security/accounts/users.js';
import { AuditIndexStalledError, indexAuditUpTo } from './audit-indexer.js';
import type { AuditSearch } from './search-params.js';

export interface AuditSearchOptions {
  view: AuditView;
  /** For a patient's own log: the only patient whose entries may appear. */
  viewerNhsNumber?: string;
  /** e.g. https://host/security/FHIR/R4/AuditEvent, for fullUrl and the next link. */
  baseUrl: string;
  selfUrl: string;
  /** The query as received, to carry into the next link. */
  rawQuery: Record<string, unknown>;
}

/**
 * Runs an AuditEvent search exactly: the index is first brought up to the chain head as it stood
 * when the search began, so every entry committed before then is found. Later pages keep that head
 * as their snapshot, so paging neither skips nor repeats entries while new ones are appended.
 */
export async function searchAuditEvents(
  repo: Repository,
  search: AuditSearch,
  opts: AuditSearchOptions,
): Promise<{ bundle: Bundle; total: number }> {
  const head = await repo.audit.auditHead();
  const snapshot = search.cursor?.snapshot ?? head.seq;
  if (snapshot > head.seq)
    throw new FhirError(
      400,
      'INVALID_SEARCH_DATA',
      "Parameter '_cursor' is not a cursor from a next link",
    );
  try {
    await indexAuditUpTo(repo, snapshot);
  } catch (err) {
    // a log with an entry missing stops the index: say so rather than answer inexactly
    if (!(err instanceof AuditIndexStalledError)) throw err;
    throw new FhirError(
      503,
      'SERVICE_UNAVAILABLE',
      `The audit index cannot be brought up to date: ${err.message}; run AuditEvent/$verify`,
    );
  }

  if (opts.view === 'patient' && search.filters.patient !== opts.viewerNhsNumber) {
    throw new FhirError(
      403,
      'ACCESS_DENIED',
      'Patients may only see the audit log of their own record',
    );
  }
  const filters = { ...search.filters, maxSeq: snapshot };
  const page = { ...filters, ...(search.cursor ? { beforeSeq: search.cursor.before } : {}) };
  const [seqs, total] = await Promise.all([
    repo.audit.searchAudit(page, search.count + 1),
    repo.audit.countAudit(filters),
  ]);
  const shown = seqs.slice(0, search.count);
  const bySeq = new Map((await repo.audit.readAuditEntries(shown)).map((e) => [e.seq, e]));
  const entries = shown
    .map((seq) => bySeq.get(seq))
    .filter((e) => e !== undefined)
    // belt and braces: a patient's view holds entries about them and nothing else
    .filter((e) => opts.view !== 'patient' || e.record.patient === opts.viewerNhsNumber);
  await fillUserNames(repo, entries);

  const link: BundleLink[] = [{ relation: 'self', url: opts.selfUrl }];
  if (seqs.length > search.count && shown.length > 0) {
    const next = new URLSearchParams();
    for (const [name, value] of Object.entries(opts.rawQuery)) {
      if (name === '_cursor') continue;
      for (const v of [value].flat()) next.append(name, String(v));
    }
    next.set('_cursor', `${shown[shown.length - 1]}.${snapshot}`);
    link.push({ relation: 'next', url: `${opts.baseUrl}?${next}` });
  }
  const bundle: Bundle = {
    resourceType: 'Bundle',
    type: 'searchset',
    timestamp: new Date().toISOString(),
    total,
    link,
    // FHIR JSON has no empty arrays: a page without matches has no entry element
    ...(entries.length
      ? {
          entry: entries.map((e) => ({
            fullUrl: `${opts.baseUrl}/${e.seq}`,
            resource: toAuditEvent(e, opts.view),
            search: { mode: 'match' as const },
          })),
        }
      : {}),
  };
  return { bundle, total };
}

/**
 * Entries made with tokens that carried no name (the CLI's development tokens, external issuers)
 * get the name from the user directory, so "who looked at my record" names a person where one is known.
 */
async function fillUserNames(repo: Repository, entries: AuditEntry[]): Promise<void> {
  const unnamed = [
    ...new Set(
      entries
        .filter((e) => !e.record.userName && (e.record.actorKind ?? 'user') === 'user')
        .map((e) => e.record.userId),
    ),
  ];
  if (unnamed.length === 0) return;
  const names = new Map(
    (await repo.readMany<SecurityUser>(USER_TYPE, unnamed)).map((u) => [u.id, u.resource.name]),
  );
  for (const e of entries) {
    const name = !e.record.userName ? names.get(e.record.userId) : undefined;
    if (name) e.record = { ...e.record, userName: name };
  }
}
