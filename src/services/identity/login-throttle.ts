/**
 * Limits passcode guessing: after `maxFailures` wrong passcodes for one user id within the window,
 * that id may not sign in on this node until the window has passed. Counted per node in memory, as
 * the API rate limits are; unknown ids are counted the same, so the answer reveals nothing.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, { count: number; since: number }>();

  constructor(
    private readonly maxFailures = 5,
    private readonly windowMs = 15 * 60_000,
  ) {}

  isBlocked(userId: string, now = Date.now()): boolean {
    const entry = this.failures.get(userId);
    if (!entry) return false;
    if (now - entry.since >= this.windowMs) {
      this.failures.delete(userId);
      return false;
    }
    return entry.count >= this.maxFailures;
  }

  /** Counts a failure; true when this one locks the id (it reached the limit). */
  recordFailure(userId: string, now = Date.now()): boolean {
    let entry = this.failures.get(userId);
    if (entry && now - entry.since < this.windowMs) entry.count++;
    else {
      if (this.failures.size >= 100_000) this.failures.clear();
      entry = { count: 1, since: now };
      this.failures.set(userId, entry);
    }
    return entry.count === this.maxFailures;
  }

  recordSuccess(userId: string): void {
    this.failures.delete(userId);
  }
}
