/**
 * A refusal a service has already audited itself, with facts the platform's generic refusal audit
 * cannot know (the patient behind a transfer, the basis of an SCR view). The mark travels on the
 * error that is thrown, so the HTTP layer's failure audit (src/http/failure-audit.ts) leaves it
 * alone without the service writing anything back into the request context.
 */
const AUDITED = Symbol('openspine.auditedRefusal');

type Marked = { [AUDITED]?: true };

/** Marks `err` as audited and returns it, for `throw auditedRefusal(err)`. */
export function auditedRefusal<E>(err: E): E {
  if (typeof err === 'object' && err !== null) (err as Marked)[AUDITED] = true;
  return err;
}

/** Whether a service has already audited this refusal. */
export function isAuditedRefusal(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as Marked)[AUDITED] === true;
}
