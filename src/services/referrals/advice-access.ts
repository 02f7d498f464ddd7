/**
 * Who may see and change an advice and guidance request: the organisation that made it (the
 * referrer) and the provider it was sent to; anyone else is refused NO_RELATIONSHIP (the code each
 * A&G operation publishes) and the look is audited as refused. Every A&G use case reads a request
 * through `visibleAdvice`, so the rule is in one place. Also the outbox message of a change.
 */
import { randomUUID } from 'node:crypto';
import { auditRecord } from '../../audit/audit-record.js';
import type { AuditWriter } from '../../audit/audit-writer.js';
import { auditedRefusal } from '../../audit/audited-refusal.js';
import { noteReadPatient, type RequestContext } from '../../context.js';
import type { OutboxMessage } from '../../messaging/types.js';
import { VersionConflictError } from '../../store/errors.js';
import type { ResourceStore, StoredResource, WriteBatch } from '../../store/resource-store.js';
import {
  ADVICE_REQUEST,
  advicePatientOf,
  adviceProviderOf,
  adviceReferrerOf,
  adviceServiceOf,
  adviceStateOf,
  type AdviceRequest,
} from './advice-model.js';
import { ersError } from './ers-errors.js';
import type { ErsAdviceEventBody } from './event-topics.js';
import { REFERRAL_REQUEST } from './referral-model.js';

export type AdviceParty = 'referrer' | 'provider';

export interface AdviceDeps {
  store: ResourceStore;
  audit: AuditWriter;
}

/**
 * The request, when it exists and the caller's organisation is one of `parties` of it. An unknown
 * UBRN is 404 REC_NOT_FOUND; a UBRN that is a referral and no A&G request is INVALID_REQUEST_TYPE;
 * a caller of no (or the wrong) party is NO_RELATIONSHIP, audited as refused. Both codes are
 * answered with the status the operation publishes for them (a025: 400, the others: 422).
 */
export async function visibleAdvice(
  deps: AdviceDeps,
  ctx: RequestContext,
  ods: string,
  ubrn: string,
  action: string,
  parties: readonly AdviceParty[],
  refusalStatus: 400 | 422 = 422,
): Promise<StoredResource<AdviceRequest> & { party: AdviceParty }> {
  const stored = await deps.store.read(ADVICE_REQUEST, ubrn);
  if (!stored) {
    if (await deps.store.read(REFERRAL_REQUEST, ubrn))
      throw ersError(
        refusalStatus,
        'business-rule',
        'INVALID_REQUEST_TYPE',
        `UBRN ${ubrn} is a referral, not an advice and guidance request`,
      );
    throw ersError(
      404,
      'not-found',
      'REC_NOT_FOUND',
      `No advice and guidance request with UBRN ${ubrn}`,
    );
  }
  const r = stored.resource;
  const party: AdviceParty | undefined =
    adviceReferrerOf(r) === ods ? 'referrer' : adviceProviderOf(r) === ods ? 'provider' : undefined;
  if (!party || !parties.includes(party)) {
    await deps.audit.append(
      auditRecord(ctx, action, advicePatientOf(r), 'refused', {
        ubrn,
        reason: party
          ? `the ${party} may not do this`
          : 'not a party to the advice and guidance request',
      }),
    );
    throw auditedRefusal(
      ersError(
        refusalStatus,
        'business-rule',
        'NO_RELATIONSHIP',
        party
          ? `Organisation ${ods} is the ${party} of advice and guidance request ${ubrn}; only the ${parties.join(' or ')} may do this`
          : `Organisation ${ods} has no relationship with advice and guidance request ${ubrn}`,
      ),
    );
  }
  // whatever the answer shows of it (a conversation never names the patient) is released against
  // its patient (location-release-hook.ts)
  noteReadPatient(ctx, advicePatientOf(r));
  return { ...stored, party };
}

/** 409 VERSION_MISMATCH unless the version the caller names is the request's current one. */
export function requireAdviceVersion(current: number, given: number): void {
  if (current !== given)
    throw ersError(
      409,
      'conflict',
      'VERSION_MISMATCH',
      `Version supplied (${given}) does not match current version (${current}) of the advice and guidance request`,
    );
}

/**
 * Commits a change made at the version read: a concurrent change that committed first refuses the
 * batch in the store, answered 409 VERSION_MISMATCH in eRS's words (writeOnce first checks whether
 * it was this very request's twin).
 */
export async function commitAdviceChange(
  store: ResourceStore,
  batch: WriteBatch,
): Promise<StoredResource[]> {
  try {
    return await store.commit(batch);
  } catch (err) {
    if (!(err instanceof VersionConflictError)) throw err;
    throw ersError(
      409,
      'conflict',
      'VERSION_MISMATCH',
      'The advice and guidance request (or its referral) was changed by another request meanwhile; read it again',
    );
  }
}

/** The outbox message announcing a change of a request on `topic` (keyed by NHS Number). */
export function adviceMessage(
  topic: string,
  r: AdviceRequest,
  version: number,
  time: string,
  outcome?: string,
): OutboxMessage {
  const body: ErsAdviceEventBody = {
    ubrn: r.id,
    nhsNumber: advicePatientOf(r),
    referrer: adviceReferrerOf(r),
    provider: adviceProviderOf(r),
    service: adviceServiceOf(r),
    state: adviceStateOf(r),
    version,
    time,
    ...(outcome ? { outcome } : {}),
  };
  return { id: randomUUID(), topic, key: body.nhsNumber, body };
}
