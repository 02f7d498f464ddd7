/**
 * The two refusals a commit can give (see ResourceStore.commit): both leave nothing behind, so the
 * caller may re-read and decide what to answer.
 */

/** A write's expectedVersion did not match the stored version: the whole batch was refused. */
export class VersionConflictError extends Error {
  constructor(
    readonly type: string,
    readonly id: string,
    readonly expectedVersion: number,
    readonly actualVersion: number | null,
  ) {
    super(
      `version conflict on ${type}/${id}: expected ${expectedVersion}, found ${actualVersion ?? 'none'}`,
    );
    this.name = 'VersionConflictError';
  }
}

/** The batch's request id was recorded before: the whole batch was refused. */
export class DuplicateRequestError extends Error {
  constructor(readonly requestId: string) {
    super(`request ${requestId} has already been processed`);
    this.name = 'DuplicateRequestError';
  }
}
