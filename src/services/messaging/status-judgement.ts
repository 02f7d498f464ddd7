/**
 * The shape of GET /messaging/status and how each part is judged: pass (working as it should),
 * warn (working, but something needs a look: degraded) or fail (not working). The whole platform's
 * status is its worst part's.
 */

export type Health = 'pass' | 'warn' | 'fail';

/** A consumer's oldest waiting delivery older than this is a queue backing up. */
export const QUEUE_WAIT_WARN_SECONDS = 300;
/** An outbox row not relayed to NATS after this long means the relay is behind (or NATS is away). */
export const RELAY_LAG_WARN_SECONDS = 60;
/** The signer is late when the chain has moved and no checkpoint was signed for this many intervals. */
export const CHECKPOINT_LATE_INTERVALS = 3;

interface Part {
  status: Health;
  /** Why the part is not 'pass', in words for an operator. */
  note?: string;
}

export interface StorePart extends Part {
  kind: 'sqlite' | 'postgres';
  reachable: boolean;
  patients: number | null;
  commitWorking: boolean;
}

export interface BusPart extends Part {
  kind: 'embedded' | 'nats';
  running: boolean | null;
  connected: boolean | null;
  consumers: string[];
}

export interface AuditFigures {
  /** Entries in the chain (its head's seq). */
  chainLength: number | null;
  /** The search index covers entries up to this seq. */
  indexedUpTo: number | null;
  /** The last signed checkpoint. */
  checkpoint: { seq: number; time: string; ageSeconds: number } | null;
  /** Entries after the last signed checkpoint. */
  unsignedEntries: number | null;
  /** How often the signer runs (0: off). */
  intervalSeconds: number;
}

export interface AuditStatus extends Part, AuditFigures {}

export interface ConsumerQueue {
  consumer: string;
  /** Registered on this node's bus (false: known to the store only, e.g. a consumer since removed). */
  registered: boolean;
  pending: number;
  oldestPendingAt: string | null;
  waitSeconds: number | null;
  /** Embedded bus: outbox messages after its cursor (some may be topics it does not take). */
  behind: number | null;
  deadLetters: number;
}

export interface QueueFigures {
  outboxHead: number | null;
  /** NATS only: the outbox relay's backlog. */
  relay: { unrelayed: number; oldestUnrelayedAt: string | null; lagSeconds: number } | null;
  consumers: ConsumerQueue[];
}

export interface QueuePart extends Part, QueueFigures {}

export interface DeadLetterSummary {
  id: string;
  consumer: string;
  topic: string;
  attempts: number;
  lastError: string;
  deadAt: string;
  replayedAt: string | null;
}

export interface DeadLetterPart extends Part {
  total: number | null;
  awaitingReplay: number | null;
  newest: DeadLetterSummary[];
}

export interface PlatformStatus {
  status: Health;
  checkedAt: string;
  node: { id: string | null; startedAt: string; uptimeSeconds: number };
  store: StorePart;
  bus: BusPart;
  audit: AuditStatus;
  queues: QueuePart;
  deadLetters: DeadLetterPart;
}

const RANK: Record<Health, number> = { pass: 0, warn: 1, fail: 2 };

export function worst(statuses: Health[]): Health {
  return statuses.reduce<Health>((a, b) => (RANK[b] > RANK[a] ? b : a), 'pass');
}

export function secondsSince(iso: string, now: Date): number {
  return Math.max(0, Math.round((now.getTime() - Date.parse(iso)) / 1000));
}

/**
 * The signer is off (warn: nothing pins the chain), or late: entries wait unsigned and the last
 * checkpoint (or, before the first, the process's start) is older than a few signing intervals.
 */
export function judgeAudit(figures: AuditFigures, uptimeSeconds: number): AuditStatus {
  const { intervalSeconds, unsignedEntries, checkpoint } = figures;
  if (intervalSeconds <= 0)
    return { status: 'warn', ...figures, note: 'checkpoint signing is switched off' };
  const since = checkpoint ? checkpoint.ageSeconds : uptimeSeconds;
  if ((unsignedEntries ?? 0) > 0 && since > intervalSeconds * CHECKPOINT_LATE_INTERVALS)
    return {
      status: 'warn',
      ...figures,
      note: `no checkpoint signed for ${since} seconds though ${unsignedEntries} entries wait`,
    };
  return { status: 'pass', ...figures };
}

/** Queues back up when a consumer's oldest delivery has waited long, or the NATS relay lags. */
export function judgeQueues(figures: QueueFigures): QueuePart {
  const slow = figures.consumers.filter((c) => (c.waitSeconds ?? 0) > QUEUE_WAIT_WARN_SECONDS);
  const notes: string[] = [];
  if (slow.length)
    notes.push(
      `${slow.map((c) => c.consumer).join(', ')}: deliveries waiting over ${QUEUE_WAIT_WARN_SECONDS} seconds`,
    );
  if (figures.relay && figures.relay.lagSeconds > RELAY_LAG_WARN_SECONDS)
    notes.push(`the outbox relay is ${figures.relay.lagSeconds} seconds behind`);
  return notes.length
    ? { status: 'warn', ...figures, note: notes.join('; ') }
    : { status: 'pass', ...figures };
}
