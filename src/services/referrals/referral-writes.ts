/**
 * The one way a referral changes: its next version, its audit record, its outbox message, anything
 * written with it (an appointment, a slot's booking) and the X-Request-ID record, committed
 * together at the version the change was read at, so a concurrent change is refused by the store
 * (VersionConflictError, answered 409) instead of silently overwritten.
 */
import { auditRecord } from '../../audit/audit-record.js';
import type { RequestContext } from '../../context.js';
import type { ResourceStore, ResourceWrite, StoredResource } from '../../store/resource-store.js';
import type { RecordRequest } from '../write-once.js';
import { referralMessage } from './referral-events.js';
import {
  patientOf,
  REFERRAL_REQUEST,
  REFERRAL_STATE_URL,
  referralIndex,
  stateExtension,
  type ReferralRequest,
} from './referral-model.js';
import { ersError } from './ers-errors.js';
import type { ReferralState } from './referral-transitions.js';

/** 409 VERSION_MISMATCH unless the caller's If-Match version is the referral's current one. */
export function requireVersion(current: number, ifMatch: number): void {
  if (current !== ifMatch)
    throw ersError(
      409,
      'conflict',
      'VERSION_MISMATCH',
      `Version supplied (${ifMatch}) does not match current version (${current}) of the referral request`,
    );
}

export interface ReferralChange {
  /** The referral as read (its version is the one the change is made at). */
  stored: StoredResource<ReferralRequest>;
  /** The referral's next content. */
  next: ReferralRequest;
  /** Audit action and detail. */
  action: string;
  detail: Record<string, unknown>;
  /** The outbox topic announcing it (event-topics.ts), and the reason code it carries. */
  topic: string;
  reason?: string;
  /** Other writes committed with the referral (appointment, slot). */
  with?: ResourceWrite[];
  /** HTTP status the change is answered with (recorded for X-Request-ID replay). */
  status: number;
  time: string;
}

export function referralWrite(referral: ReferralRequest, expectedVersion: number): ResourceWrite {
  return {
    type: REFERRAL_REQUEST,
    id: referral.id,
    expectedVersion,
    resource: referral,
    index: referralIndex(referral),
  };
}

/** The referral in `state` (the published state extension replaced; other extensions kept). */
export function inState(
  referral: ReferralRequest,
  state: ReferralState,
  cancellation?: Parameters<typeof stateExtension>[1],
): ReferralRequest {
  return {
    ...referral,
    extension: [
      ...referral.extension.filter((e) => e.url !== REFERRAL_STATE_URL),
      stateExtension(state, cancellation),
    ],
  };
}

/** Commits the change; the saved referral (its new version) is returned. */
export async function commitReferralChange(
  store: ResourceStore,
  ctx: RequestContext,
  record: RecordRequest,
  change: ReferralChange,
): Promise<StoredResource<ReferralRequest>> {
  const version = change.stored.version + 1;
  const [saved] = await store.commit({
    resources: [referralWrite(change.next, change.stored.version), ...(change.with ?? [])],
    audit: [auditRecord(ctx, change.action, patientOf(change.next), 'success', change.detail)],
    messages: [referralMessage(change.topic, change.next, version, change.time, change.reason)],
    request: record({
      status: change.status,
      resourceType: REFERRAL_REQUEST,
      resourceId: change.next.id,
      version,
    }),
  });
  return saved as StoredResource<ReferralRequest>;
}
