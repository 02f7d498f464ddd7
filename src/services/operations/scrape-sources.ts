/**
 * What a metrics scrape reads, from the same counters GET /messaging/status judges (the store's
 * queueStats and the bus's own state, put together by messaging's consumerRows), the audit store,
 * the store engine and the readiness checks. Reads only: a scrape writes nothing (the status page
 * audits its look; a scrape shows no patient data and is not audited).
 */
import type { ScrapeSources } from '../../observability/metrics.js';
import { consumerRows, secondsSince } from '../messaging/index.js';
import type { ServiceDeps } from '../service-deps.js';

type SourceDeps = Pick<ServiceDeps, 'store' | 'bus' | 'config' | 'readiness'>;

async function queueFigures({ store, bus }: SourceDeps) {
  const now = new Date();
  const s = await store.messaging.queueStats();
  const registered = bus.status?.().consumers ?? [];
  const rows = consumerRows(s.consumers, registered, bus.kind, s.outboxHead, now);
  // lag: read from the outbox but not finished (pending), and not read yet (behind, embedded only)
  const consumers = rows.map((r) => ({
    consumer: r.consumer,
    lag: r.pending + (r.behind ?? 0),
    deadLetters: r.deadLetters,
  }));
  if (bus.kind === 'nats')
    return {
      outboxDepth: s.unrelayed,
      relayLagSeconds: s.oldestUnrelayedAt ? secondsSince(s.oldestUnrelayedAt, now) : 0,
      consumers,
    };
  // embedded: the outbox is "delivered" once every registered consumer has read past a message and
  // finished it; the depth is what the slowest consumer has not read, the lag the oldest of those
  // unread messages or of the deliveries still pending
  const cursors = registered.map(
    (name) => s.consumers.find((c) => c.consumer === name)?.cursor ?? 0,
  );
  const slowest = cursors.length ? Math.min(...cursors) : s.outboxHead;
  const [firstUnread] = slowest < s.outboxHead ? await store.messaging.readOutbox(slowest, 1) : [];
  const waits = rows.filter((r) => r.registered).map((r) => r.waitSeconds ?? 0);
  if (firstUnread) waits.push(secondsSince(firstUnread.time, now));
  return {
    outboxDepth: s.outboxHead - slowest,
    relayLagSeconds: Math.max(0, ...waits),
    consumers,
  };
}

async function auditFigures({ store }: SourceDeps) {
  const [head, checkpoint] = await Promise.all([
    store.audit.auditHead(),
    store.audit.latestAuditCheckpoint(),
  ]);
  return {
    chainLength: Number(head.seq),
    checkpointAgeSeconds: checkpoint ? secondsSince(checkpoint.time, new Date()) : null,
  };
}

export function scrapeSources(deps: SourceDeps): ScrapeSources {
  return {
    dataDir: deps.config.dataDir,
    queues: () => queueFigures(deps),
    audit: () => auditFigures(deps),
    store: async () => ({ kind: deps.store.kind, ...(await deps.store.storeStats()) }),
    readiness: async () => ({
      ready: (await deps.readiness.check()).status === 'pass',
      draining: deps.readiness.draining,
    }),
  };
}
