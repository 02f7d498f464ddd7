/**
 * Whether this node should be sent traffic (GET /_status/ready, the openspine_ready and
 * openspine_draining gauges). The parts of the platform register their own checks (the health
 * service: store, migrations, bus; the security service: the audit checkpoint signer); the
 * draining flag lives here, set once on SIGTERM, so that a load balancer polling /_status/ready
 * stops sending before the node stops listening.
 */

/** 'off': the part is configured off (not a failure). */
export type CheckStatus = 'pass' | 'fail' | 'off';

export interface CheckResult {
  status: CheckStatus;
  /** A short reason in words, never patient data. */
  reason: string;
  /** Further facts about the check (schema versions, the signer's last success...). */
  [detail: string]: unknown;
}

export interface ReadyReport {
  /** 'pass' when no check failed. */
  status: 'pass' | 'fail';
  /** Every check by name, in the order registered; 'draining' last. */
  checks: Record<string, CheckResult>;
}

export type ReadinessCheck = () => CheckResult | Promise<CheckResult>;

/** A periodic background job as readiness sees it (src/audit/audit-indexer.ts: PeriodicJob). */
export interface WatchedJob {
  /** Started and not stopped. */
  readonly started: boolean;
  /** When a round last finished without an error. */
  readonly lastSuccessAt: Date | undefined;
  readonly lastFailure: { at: Date; message: string } | undefined;
}

/**
 * How long one check may take: a store that stopped answering (a PostgreSQL behind a dead network
 * path) fails the check rather than holding the probe past a load balancer's own timeout (1 s is
 * the Kubernetes default; the checks run together, so this bounds the whole answer).
 */
export const CHECK_TIMEOUT_MS = 800;

/** Reasons are cut to this length: a probe's answer stays small whatever an error says. */
const REASON_MAX = 160;

export function shortReason(text: string): string {
  const line = text.split('\n')[0];
  return line.length > REASON_MAX ? line.slice(0, REASON_MAX - 1) + '…' : line;
}

async function bounded(check: ReadinessCheck, timeoutMs: number): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<CheckResult>((resolve) => {
    timer = setTimeout(
      () => resolve({ status: 'fail', reason: `no answer within ${timeoutMs} ms` }),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([Promise.resolve().then(check), timeout]);
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    const message = err instanceof Error ? err.message : String(err);
    return {
      status: 'fail',
      reason: shortReason(typeof code === 'string' ? `${code}: ${message}` : message),
    };
  } finally {
    clearTimeout(timer);
  }
}

export class Readiness {
  private readonly checks = new Map<string, ReadinessCheck>();
  private readonly jobs = new Map<string, WatchedJob>();
  private drainingSince: Date | undefined;
  private refusing = false;
  private pending: Promise<ReadyReport> | undefined;
  /** The newest report made by check() (undefined before the first). */
  last: ReadyReport | undefined;

  constructor(private readonly timeoutMs = CHECK_TIMEOUT_MS) {}

  /** Registers a check under a name of its own ('draining' is this object's). */
  add(name: string, check: ReadinessCheck): void {
    if (name === 'draining' || this.checks.has(name))
      throw new Error(`readiness check '${name}' is already registered`);
    this.checks.set(name, check);
  }

  /**
   * Registers a background job's check: it fails while the job is not running, or reports 'off'
   * with offReason when the job is configured off (job null).
   */
  watchJob(name: string, job: WatchedJob | null, offReason: string): void {
    if (job) this.jobs.set(name, job);
    this.add(name, () => {
      if (!job) return { status: 'off', reason: offReason };
      const facts = {
        lastSuccess: job.lastSuccessAt?.toISOString() ?? null,
        lastFailure: job.lastFailure
          ? { at: job.lastFailure.at.toISOString(), reason: shortReason(job.lastFailure.message) }
          : null,
      };
      return job.started
        ? { status: 'pass', reason: 'running', ...facts }
        : { status: 'fail', reason: 'stopped', ...facts };
    });
  }

  /** The job watched under this name (tests stop it to see readiness fail). */
  job(name: string): WatchedJob | undefined {
    return this.jobs.get(name);
  }

  /** True from the SIGTERM on: the node is finishing what it has and takes nothing new. */
  get draining(): boolean {
    return this.drainingSince !== undefined;
  }

  startDraining(now: Date = new Date()): void {
    this.drainingSince ??= now;
  }

  /**
   * The drain's second step (src/http/drain.ts): new requests are answered 503 while those in
   * flight finish, so clients go elsewhere before the listener closes.
   */
  get refusingRequests(): boolean {
    return this.refusing;
  }

  refuseRequests(): void {
    this.startDraining();
    this.refusing = true;
  }

  /**
   * Runs every check at once, each bounded by the timeout; calls made while one is running share
   * its answer, so frequent probes (and a metrics scrape) cost the store one round at a time.
   */
  check(): Promise<ReadyReport> {
    this.pending ??= this.run().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async run(): Promise<ReadyReport> {
    const names = [...this.checks.keys()];
    const results = await Promise.all(
      names.map((name) => bounded(this.checks.get(name)!, this.timeoutMs)),
    );
    const checks: Record<string, CheckResult> = {};
    names.forEach((name, i) => {
      checks[name] = results[i];
    });
    checks.draining = this.drainingSince
      ? { status: 'fail', reason: 'draining', since: this.drainingSince.toISOString() }
      : { status: 'pass', reason: 'not draining' };
    const status = Object.values(checks).some((c) => c.status === 'fail') ? 'fail' : 'pass';
    this.last = { status, checks };
    return this.last;
  }
}
