/** Limits and timeouts of GP2GP transfers; every one can be overridden where the service is built. */
export interface Gp2gpOptions {
  /** Largest single attachment (bytes). */
  maxAttachmentBytes: number;
  /** Largest chunk of an attachment a PUT may carry (bytes); also the route's body limit. */
  maxChunkBytes: number;
  /** Largest $send body (the EHR Bundle and manifest as JSON, bytes). */
  maxEhrBytes: number;
  /** Most attachments one record may announce. */
  maxAttachments: number;
  /** How long the old practice has to start sending after each request notice (ms). */
  requestTimeoutMs: number;
  /** Request notices (the first included) before a silent transfer fails with reason 'timeout'. */
  maxRequestAttempts: number;
  /** How long a transfer may go without a chunk arriving while attachments are missing (ms). */
  sendingTimeoutMs: number;
  /** How long the new practice has to acknowledge a sent record before the transfer fails (ms). */
  ackTimeoutMs: number;
  /** How often the timeout sweep runs (on one node of the cluster). */
  sweepIntervalMs: number;
  /** The clock; tests pass their own. */
  now: () => Date;
}

export const MIB = 1024 * 1024;

export const GP2GP_DEFAULTS: Gp2gpOptions = {
  maxAttachmentBytes: 100 * MIB,
  maxChunkBytes: 4 * MIB,
  maxEhrBytes: 16 * MIB,
  maxAttachments: 100,
  requestTimeoutMs: 60 * 60 * 1000,
  maxRequestAttempts: 3,
  sendingTimeoutMs: 60 * 60 * 1000,
  // GP2GP allows the receiving practice eight days to integrate or reject a record
  ackTimeoutMs: 8 * 24 * 60 * 60 * 1000,
  sweepIntervalMs: 60 * 1000,
  now: () => new Date(),
};

export function gp2gpOptions(overrides: Partial<Gp2gpOptions> = {}): Gp2gpOptions {
  return { ...GP2GP_DEFAULTS, ...overrides };
}
