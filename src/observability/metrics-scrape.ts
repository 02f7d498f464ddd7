import { statfs } from 'node:fs/promises';
import type { Gauge } from 'prom-client';

/** The outbox and the consumers' queues at one moment. */
export interface QueueFigures {
  outboxDepth: number;
  relayLagSeconds: number;
  consumers: { consumer: string; lag: number; deadLetters: number }[];
}

/** The audit chain at one moment. */
export interface AuditFigures {
  chainLength: number;
  /** null when no checkpoint has been signed yet. */
  checkpointAgeSeconds: number | null;
}

/** The store engine at one moment. */
export interface StoreFigures {
  kind: string;
  sizeBytes: number;
  commitQueue: number;
  pool: { total: number; idle: number; waiting: number } | null;
}

/**
 * What a scrape reads (src/services/operations/scrape-sources.ts builds it from the store and the
 * bus): each part is read once per scrape, never on the request path.
 */
export interface ScrapeSources {
  queues(): Promise<QueueFigures>;
  audit(): Promise<AuditFigures>;
  store(): Promise<StoreFigures>;
  /** The data directory, whose filesystem's free space and size are reported. */
  dataDir: string;
  /** The readiness checks' verdict (/_status/ready's) and the draining flag. */
  readiness(): Promise<{ ready: boolean; draining: boolean }>;
}

type ScrapedGauges = Record<
  | 'groupCommitQueue'
  | 'outboxDepth'
  | 'relayLag'
  | 'consumerLag'
  | 'deadLetters'
  | 'auditChainLength'
  | 'checkpointAge'
  | 'pgPool'
  | 'diskFree'
  | 'diskSize'
  | 'storeSize'
  | 'ready'
  | 'draining',
  Gauge
>;

/**
 * Reads every source (in parallel) and sets the gauges. A part that cannot be read leaves its
 * labelled series out and its single gauges NaN, so one failing part never fails the scrape and a
 * stale number is never shown as current.
 */
export async function refreshScrapeGauges(g: ScrapedGauges, sources: ScrapeSources): Promise<void> {
  const [queues, audit, store, disk, readiness] = await Promise.allSettled([
    sources.queues(),
    sources.audit(),
    sources.store(),
    statfs(sources.dataDir),
    sources.readiness(),
  ]);
  // a readiness that cannot be judged is not ready
  g.ready.set(readiness.status === 'fulfilled' && readiness.value.ready ? 1 : 0);
  g.draining.set(readiness.status === 'fulfilled' ? Number(readiness.value.draining) : NaN);
  g.consumerLag.reset();
  g.deadLetters.reset();
  if (queues.status === 'fulfilled') {
    g.outboxDepth.set(queues.value.outboxDepth);
    g.relayLag.set(queues.value.relayLagSeconds);
    for (const c of queues.value.consumers) {
      g.consumerLag.set({ consumer: c.consumer }, c.lag);
      g.deadLetters.set({ consumer: c.consumer }, c.deadLetters);
    }
  } else {
    g.outboxDepth.set(NaN);
    g.relayLag.set(NaN);
  }

  if (audit.status === 'fulfilled') {
    g.auditChainLength.set(audit.value.chainLength);
    g.checkpointAge.set(audit.value.checkpointAgeSeconds ?? -1);
  } else {
    g.auditChainLength.set(NaN);
    g.checkpointAge.set(NaN);
  }

  g.groupCommitQueue.reset();
  g.storeSize.reset();
  g.pgPool.reset();
  if (store.status === 'fulfilled') {
    const s = store.value;
    g.groupCommitQueue.set({ store: s.kind }, s.commitQueue);
    g.storeSize.set({ store: s.kind }, s.sizeBytes);
    if (s.pool)
      for (const state of ['total', 'idle', 'waiting'] as const)
        g.pgPool.set({ state }, s.pool[state]);
  }

  if (disk.status === 'fulfilled') {
    g.diskFree.set(disk.value.bavail * disk.value.bsize);
    g.diskSize.set(disk.value.blocks * disk.value.bsize);
  } else {
    g.diskFree.set(NaN);
    g.diskSize.set(NaN);
  }
}
