/**
 * The platform's detailed status for operators (GET /messaging/status, activity messaging.admin):
 * the store, the message bus, the audit chain and its signed checkpoints, queue depths and dead
 * letters, each part judged pass / warn / fail, from the store's and the bus's own counters. The
 * look is audited as the dead-letter routes' are; the audit commit is also the check that the store
 * takes writes.
 */
import type { RequestContext } from '../../context.js';
import type { DeadLetter } from '../../messaging/types.js';
import type { ConsumerQueueStats } from '../../store/message-store.js';
import type { ServiceDeps } from '../service-deps.js';
import { deadLetterAudit } from './dead-letter-audit.js';
import {
  judgeAudit,
  judgeQueues,
  secondsSince,
  worst,
  type AuditStatus,
  type BusPart,
  type DeadLetterPart,
  type PlatformStatus,
  type QueuePart,
  type StorePart,
} from './status-judgement.js';

/** How many of the newest dead letters the status shows. */
export const NEWEST_DEAD_LETTERS = 5;

type StatusDeps = Pick<ServiceDeps, 'store' | 'bus' | 'config' | 'startedAt'>;

const errorText = (err: unknown) =>
  (err instanceof Error ? `${err.name}: ${err.message}` : String(err)).slice(0, 300);

/** Runs `read`, or gives the error's text: one part failing never hides the others. */
async function attempt<T>(read: () => Promise<T>): Promise<{ ok: T } | { error: string }> {
  try {
    return { ok: await read() };
  } catch (err) {
    return { error: errorText(err) };
  }
}

function busPart(deps: StatusDeps): BusPart {
  const s = deps.bus.status?.();
  if (!s)
    return {
      status: 'warn',
      kind: deps.bus.kind,
      running: null,
      connected: null,
      consumers: [],
      note: 'this bus does not report its state',
    };
  const ok = s.running && s.connected;
  return {
    status: ok ? 'pass' : 'fail',
    kind: s.kind,
    running: s.running,
    connected: s.connected,
    consumers: s.consumers,
    ...(ok
      ? {}
      : {
          note: !s.running
            ? 'the bus is not running'
            : `the bus cannot reach ${s.kind === 'nats' ? 'the NATS server' : 'the store'}`,
        }),
  };
}

async function auditPart(deps: StatusDeps, now: Date): Promise<AuditStatus> {
  const read = await attempt(async () => {
    const [head, checkpoint, indexed] = await Promise.all([
      deps.store.audit.auditHead(),
      deps.store.audit.latestAuditCheckpoint(),
      deps.store.audit.auditIndexCheckpoint(),
    ]);
    return { head, checkpoint, indexed };
  });
  const intervalSeconds = deps.config.auditCheckpointSeconds;
  if ('error' in read)
    return {
      status: 'fail',
      chainLength: null,
      indexedUpTo: null,
      checkpoint: null,
      unsignedEntries: null,
      intervalSeconds,
      note: `the audit chain could not be read: ${read.error}`,
    };
  const { head, checkpoint, indexed } = read.ok;
  return judgeAudit(
    {
      chainLength: Number(head.seq),
      indexedUpTo: Number(indexed),
      checkpoint: checkpoint
        ? {
            seq: Number(checkpoint.seq),
            time: checkpoint.time,
            ageSeconds: secondsSince(checkpoint.time, now),
          }
        : null,
      unsignedEntries: Number(head.seq) - Number(checkpoint?.seq ?? 0),
      intervalSeconds,
    },
    secondsSince(deps.startedAt.toISOString(), now),
  );
}

/** Each consumer's queue as operators see it (the status page, and the metrics scrape). */
export function consumerRows(
  stats: ConsumerQueueStats[],
  registered: string[],
  busKind: string,
  outboxHead: number,
  now: Date,
): QueuePart['consumers'] {
  const names = [...new Set([...registered, ...stats.map((s) => s.consumer)])].sort();
  return names.map((consumer) => {
    const s = stats.find((c) => c.consumer === consumer);
    return {
      consumer,
      registered: registered.includes(consumer),
      pending: s?.pending ?? 0,
      oldestPendingAt: s?.oldestPendingAt ?? null,
      waitSeconds: s?.oldestPendingAt ? secondsSince(s.oldestPendingAt, now) : null,
      // the embedded bus reads the outbox through a cursor per consumer; on NATS JetStream keeps it
      behind: busKind === 'embedded' ? Math.max(0, outboxHead - (s?.cursor ?? 0)) : null,
      deadLetters: s?.deadLetters ?? 0,
    };
  });
}

/** What the dead letters look like to an operator: never the message body or key (patient data). */
const letterSummary = (l: DeadLetter) => ({
  id: l.id,
  consumer: l.consumer,
  topic: l.message.topic,
  attempts: l.attempts,
  lastError: l.lastError.slice(0, 300),
  deadAt: l.deadAt,
  replayedAt: l.replayedAt ?? null,
});

/** Gathers and judges the platform's status, and audits the look. */
export async function platformStatus(
  deps: StatusDeps,
  ctx: RequestContext,
): Promise<PlatformStatus> {
  const now = new Date();
  const { store } = deps;
  const bus = busPart(deps);
  const [patients, audit, stats, newest] = await Promise.all([
    attempt(() => store.count('Patient')),
    auditPart(deps, now),
    attempt(() => store.messaging.queueStats()),
    attempt(() => store.messaging.listDeadLetters({ limit: NEWEST_DEAD_LETTERS })),
  ]);
  const letters = 'ok' in newest ? newest.ok : [];

  // the look is audited (naming the patients whose dead letters are listed, as the dead-letter
  // routes do); the audit commit is the check that the store takes writes
  const commit = await attempt(() =>
    store.commit({
      audit: deadLetterAudit(ctx, 'messaging.status.read', letters, {
        deadLetters: letters.map((l) => l.id),
      }),
    }),
  );
  const storePart: StorePart = {
    status: 'ok' in patients && 'ok' in commit ? 'pass' : 'fail',
    kind: store.kind,
    reachable: 'ok' in patients,
    patients: 'ok' in patients ? patients.ok : null,
    commitWorking: 'ok' in commit,
    ...('error' in patients
      ? { note: `the store did not answer: ${patients.error}` }
      : 'error' in commit
        ? { note: `the store did not take a write: ${commit.error}` }
        : {}),
  };

  let queues: QueuePart;
  let deadLetters: DeadLetterPart;
  if ('error' in stats) {
    queues = {
      status: 'fail',
      outboxHead: null,
      relay: null,
      consumers: [],
      note: `the messaging tables could not be read: ${stats.error}`,
    };
    deadLetters = {
      status: 'fail',
      total: null,
      awaitingReplay: null,
      newest: [],
      note: 'the dead letters could not be counted',
    };
  } else {
    const s = stats.ok;
    queues = judgeQueues({
      outboxHead: s.outboxHead,
      relay:
        bus.kind === 'nats'
          ? {
              unrelayed: s.unrelayed,
              oldestUnrelayedAt: s.oldestUnrelayedAt,
              lagSeconds: s.oldestUnrelayedAt ? secondsSince(s.oldestUnrelayedAt, now) : 0,
            }
          : null,
      consumers: consumerRows(s.consumers, bus.consumers, bus.kind, s.outboxHead, now),
    });
    const waiting = s.deadLetters.awaitingReplay;
    deadLetters = {
      status: waiting > 0 ? 'warn' : 'pass',
      ...(waiting > 0
        ? {
            note:
              waiting === 1
                ? '1 message failed and awaits replay'
                : `${waiting} messages failed and await replay`,
          }
        : {}),
      ...s.deadLetters,
      // shown only when their look was audited
      newest: 'ok' in commit ? letters.map(letterSummary) : [],
    };
  }
  const parts = [storePart, bus, audit, queues, deadLetters];
  return {
    status: worst(parts.map((p) => p.status)),
    checkedAt: now.toISOString(),
    node: {
      id: deps.bus.status?.().nodeId ?? null,
      startedAt: deps.startedAt.toISOString(),
      uptimeSeconds: secondsSince(deps.startedAt.toISOString(), now),
    },
    store: storePart,
    bus,
    audit,
    queues,
    deadLetters,
  };
}
