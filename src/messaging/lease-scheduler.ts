import { randomUUID } from 'node:crypto';
import type { MessageStore } from '../store/message-store.js';
import type { JobScheduler } from './types.js';
import { Wakeup } from './wakeup.js';

export interface LeaseSchedulerOptions {
  nodeId: string;
  /**
   * How long a lease outlives its holder's last renewal: another node takes a job over this long
   * after a crash (default 15 s).
   */
  leaseMs?: number;
  log?: (message: string, err?: unknown) => void;
}

interface Job {
  name: string;
  intervalMs: number;
  run: () => Promise<void>;
}

/**
 * Runs each job on one node of the cluster: the node holding the job's lease ('job:<name>') in the
 * store. Every node ticks at a third of the lease time, renewing (or trying to take) the lease, and
 * runs the job when it holds it and the interval has passed. A node that stops gives its leases up,
 * so another takes over at its next tick; one that dies loses them when they expire.
 */
export class LeaseScheduler implements JobScheduler {
  private readonly jobs: Job[] = [];
  private readonly loops: Promise<void>[] = [];
  private readonly wakeups: Wakeup[] = [];
  private stopping = false;
  private started = false;
  private readonly holder: string;
  private readonly leaseMs: number;

  constructor(
    private readonly store: MessageStore,
    private readonly options: LeaseSchedulerOptions,
  ) {
    this.holder = `${options.nodeId}/${randomUUID().slice(0, 8)}`;
    this.leaseMs = options.leaseMs ?? 15_000;
  }

  every(name: string, intervalMs: number, job: () => Promise<void>): void {
    if (this.started) throw new Error(`job '${name}' scheduled after the scheduler started`);
    if (this.jobs.some((j) => j.name === name))
      throw new Error(`job '${name}' is already scheduled`);
    if (!(intervalMs > 0)) throw new Error('a job interval must be > 0');
    this.jobs.push({ name, intervalMs, run: job });
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    for (const job of this.jobs) {
      const wakeup = new Wakeup();
      this.wakeups.push(wakeup);
      this.loops.push(this.loop(job, wakeup));
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wakeups.forEach((w) => w.wake());
    await Promise.all(this.loops);
  }

  private async loop(job: Job, wakeup: Wakeup): Promise<void> {
    const lease = `job:${job.name}`;
    const tick = Math.max(1, Math.min(job.intervalMs, Math.floor(this.leaseMs / 3)));
    let lastRun = 0;
    let held = false;
    while (!this.stopping) {
      try {
        held = await this.store.tryAcquireLease(lease, this.holder, this.leaseMs);
        if (held && Date.now() - lastRun >= job.intervalMs && !this.stopping) {
          lastRun = Date.now();
          await job.run();
        }
      } catch (err) {
        this.options.log?.(`scheduler: job ${job.name} failed`, err);
      }
      if (!this.stopping) await wakeup.sleep(tick);
    }
    if (held) await this.store.releaseLease(lease, this.holder).catch(() => {});
  }
}
