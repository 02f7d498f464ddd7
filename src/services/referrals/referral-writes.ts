/**
 * The one way a referral changes: its next version, its audit record, its outbox message, anything
 * written with it (an appointment, a slot's booking) and the X-Request-ID record, committed
 * together at the version the change was read at, so a concurrent change is refused by the store
 * (VersionConflictError, answered 409) instead of silently overwritten. `changeReferral` is the
 * use-case skeleton staff changes share (read visible, transition, version check, commit, once).
 */
import { auditRecord } from '../../audit/audit-record.js';
import type { RequestContext } from '../../context.js';
import type { ResourceStore, ResourceWrite, StoredResource } from '../../store/resource-store.js';
import type { AuditWriter } from '../../audit/audit-writer.js';
import { writeOnce, type RecordRequest } from '../write-once.js';
import { visibleReferral, type ReferralParty, type ReferralViewer } from './referral-access.js';
import { referralMessage } from './referral-events.js';
import {
  patientOf,
  REFERRAL_REQUEST,
  REFERRAL_STATE_URL,
  referralIndex,
  stateExtension,
  stateOf,
  type ReferralRequest,
} from './referral-model.js';
import { ersError } from './ers-errors.js';
import { transition, type ReferralAction, type ReferralState } from './referral-transitions.js';

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

/** What a change of a referral makes of it once read, checked and at the caller's version. */
export type PlannedChange = Omit<ReferralChange, 'stored' | 'action' | 'status' | 'time'> & {
  /** When the change happened, if the plan needed it already (otherwise: now, at commit). */
  time?: string;
};

export interface ChangeOfReferral<R> {
  ubrn: string;
  /** Who asks, and which sides of the referral may make this change (visibleReferral). */
  viewer: ReferralViewer;
  parties: readonly ReferralParty[];
  /** The audit action, of a refusal and of the change. */
  action: string;
  /** The version the caller last read (If-Match). */
  ifMatch: number;
  /** Parses the request; first, so a malformed one is refused before the referral is read. */
  parse?: () => R;
  /** The state machine's action, or the one the request asks for (its next state goes to `plan`) ... */
  transition?: ReferralAction | ((request: R) => ReferralAction);
  /** ... or, for a change that keeps the state, its own check of the referral as read. */
  check?: (stored: StoredResource<ReferralRequest>) => void;
  /** The referral's next content, audit detail, topic and other writes (after the version check). */
  plan(
    stored: StoredResource<ReferralRequest> & { party: ReferralParty },
    request: R,
    state: ReferralState,
  ): PlannedChange | Promise<PlannedChange>;
}

/**
 * A change of a referral by a staff caller, in the one order every such use case answers in:
 * request parsed, referral read where the caller may see it (404 / 403), the change allowed in its
 * state (422, transition()), the caller's version current (409), then the plan's own checks and
 * one commit through commitReferralChange inside writeOnce (an X-Request-ID retry answered as
 * before with the referral version it produced).
 */
export function changeReferral<R = undefined>(
  deps: { store: ResourceStore; audit: AuditWriter; now: () => Date },
  ctx: RequestContext,
  change: ChangeOfReferral<R>,
): Promise<StoredResource<ReferralRequest>> {
  return writeOnce(deps.store, ctx, {
    answers: REFERRAL_REQUEST,
    asBefore: ({ stored }) => stored,
    write: async ({ record }) => {
      const request = change.parse ? change.parse() : (undefined as R);
      const stored = await visibleReferral(
        deps,
        ctx,
        change.viewer,
        change.ubrn,
        change.action,
        change.parties,
      );
      change.check?.(stored);
      const act = change.transition;
      const state = act
        ? transition(stateOf(stored.resource), typeof act === 'function' ? act(request) : act)
        : stateOf(stored.resource);
      requireVersion(stored.version, change.ifMatch);
      const { time, ...planned } = await change.plan(stored, request, state);
      return commitReferralChange(deps.store, ctx, record, {
        ...planned,
        stored,
        action: change.action,
        status: 200,
        time: time ?? deps.now().toISOString(),
      });
    },
  });
}
