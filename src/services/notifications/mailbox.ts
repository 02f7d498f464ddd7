import type { Bundle } from 'fhir/r4.js';
import { FhirError } from '../../fhir/errors.js';
import { VersionConflictError } from '../../store/errors.js';
import {
  resourceType,
  type ResourceWrite,
  type ResourceStore,
} from '../../store/resource-store.js';

/**
 * Pull mailboxes of 'message' subscriptions. Each mailbox has a state record {next, acked}: an
 * entry takes sequence number next+1 in the same commit that moves the state, so sequence numbers
 * are gapless and in the order entries were written (per patient, the order of the events); an
 * acknowledgement moves `acked`, and the mailbox shows only entries after it. Entry ids are the
 * subscription id and the zero-padded sequence, so the store's id order is mailbox order.
 */

export const MAILBOX = resourceType<MailboxState>('NotificationMailbox');
export const MAILBOX_ENTRY = resourceType<MailboxEntry>('NotificationMailboxEntry');
export const SEQUENCE_EXTENSION = 'https://openspine.dev/StructureDefinition/mailbox-sequence';

export interface MailboxState {
  resourceType: typeof MAILBOX;
  id: string;
  next: number;
  acked: number;
}
export interface MailboxEntry {
  resourceType: typeof MAILBOX_ENTRY;
  id: string;
  subscription: string;
  seq: number;
  nhsNumber: string;
  bundle: Bundle;
}

const pad = (seq: number) => String(seq).padStart(12, '0');
const entryKey = (subscription: string, seq: number) => `${subscription}|${pad(seq)}`;
/** Commits racing on one mailbox's state are re-applied on the fresh state this many times. */
const MAX_ATTEMPTS = 20;

async function readState(
  repo: ResourceStore,
  subscription: string,
): Promise<{ state: MailboxState; version: number }> {
  const stored = await repo.read(MAILBOX, subscription);
  return stored
    ? { state: stored.resource, version: stored.version }
    : { state: { resourceType: MAILBOX, id: subscription, next: 0, acked: 0 }, version: 0 };
}

/**
 * The writes that append a Bundle to a mailbox, against the state as read now; the caller commits
 * them with its own writes and calls again on a conflict of the mailbox state.
 */
export async function appendWrites(
  repo: ResourceStore,
  subscription: string,
  nhsNumber: string,
  bundle: Bundle,
): Promise<ResourceWrite[]> {
  const { state, version } = await readState(repo, subscription);
  const seq = state.next + 1;
  const entry: MailboxEntry = {
    resourceType: MAILBOX_ENTRY,
    id: `${subscription}.${pad(seq)}`,
    subscription,
    seq,
    nhsNumber,
    bundle,
  };
  return [
    {
      type: MAILBOX,
      id: subscription,
      expectedVersion: version,
      resource: { ...state, next: seq },
      index: [],
    },
    {
      type: MAILBOX_ENTRY,
      id: entry.id,
      expectedVersion: 0,
      resource: entry,
      index: [
        { param: 'mailbox', value: entryKey(subscription, seq) },
        { param: 'bundle', value: `${subscription}|${bundle.id}` },
      ],
    },
  ];
}

/** Whether a commit failed only because another writer moved this mailbox first (retry on fresh state). */
export function isMailboxRace(err: unknown): boolean {
  return (
    err instanceof VersionConflictError && (err.type === MAILBOX || err.type === MAILBOX_ENTRY)
  );
}

/** The oldest unacknowledged entries, at most `count`, in mailbox order. */
export async function fetchMailbox(
  repo: ResourceStore,
  subscription: string,
  count: number,
): Promise<MailboxEntry[]> {
  const { state } = await readState(repo, subscription);
  const ids = await repo.search({
    type: MAILBOX_ENTRY,
    criteria: [
      { any: [{ param: 'mailbox', op: 'gt', value: entryKey(subscription, state.acked) }] },
      { any: [{ param: 'mailbox', op: 'le', value: entryKey(subscription, state.next) }] },
    ],
    limit: count,
  });
  const entries = (await repo.readMany(MAILBOX_ENTRY, ids)).map((s) => s.resource);
  return entries.sort((a, b) => a.seq - b.seq);
}

/**
 * Acknowledges every entry up to and including the one holding `bundleId` (or sequence `seq`);
 * returns the new acknowledged sequence. Acknowledging an entry already acknowledged changes nothing.
 */
export async function acknowledge(
  repo: ResourceStore,
  subscription: string,
  upTo: { bundleId?: string; seq?: number },
): Promise<{ acked: number; remaining: number }> {
  let seq = upTo.seq;
  if (upTo.bundleId !== undefined) {
    const [id] = await repo.search({
      type: MAILBOX_ENTRY,
      criteria: [
        { any: [{ param: 'bundle', op: 'eq', value: `${subscription}|${upTo.bundleId}` }] },
      ],
      limit: 1,
    });
    const entry = id ? (await repo.read(MAILBOX_ENTRY, id))?.resource : undefined;
    if (!entry)
      throw new FhirError(
        404,
        'RESOURCE_NOT_FOUND',
        `No message '${upTo.bundleId.slice(0, 64)}' in this mailbox`,
      );
    seq = entry.seq;
  }
  for (let attempt = 1; ; attempt++) {
    const { state, version } = await readState(repo, subscription);
    if (seq === undefined || !Number.isInteger(seq) || seq < 0 || seq > state.next) {
      throw new FhirError(
        400,
        'INVALID_VALUE',
        `Invalid value - sequence ${String(seq).slice(0, 20)} is not in this mailbox (last is ${state.next})`,
      );
    }
    if (seq <= state.acked) return { acked: state.acked, remaining: state.next - state.acked };
    try {
      await repo.commit({
        resources: [
          {
            type: MAILBOX,
            id: subscription,
            expectedVersion: version,
            resource: { ...state, acked: seq },
            index: [],
          },
        ],
      });
      return { acked: seq, remaining: state.next - seq };
    } catch (err) {
      if (!isMailboxRace(err) || attempt >= MAX_ATTEMPTS) throw err;
    }
  }
}
