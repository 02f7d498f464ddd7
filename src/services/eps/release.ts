import { FhirError } from '../../fhir/errors.js';
import type { RequestContext } from '../../http/request-context.js';
import { VersionConflictError, type Repository, type StoredResource } from '../../store/types.js';
import { prescriptionRelationshipWrite } from './prescription-relationship.js';
import { PRESCRIPTION, PRESCRIPTION_ORDER, type EpsPrescription } from './prescription-model.js';
import { commitPlans, illegalTransition, planTransition } from './transitions.js';

/** How many nominated prescriptions one release request may take. */
export const MAX_NOMINATED_RELEASE = 50;

export type ReleaseRequest = { kind: 'nominated'; limit: number } | { kind: 'single'; shortFormId: string };

export async function issuesByShortForm(repo: Repository, shortFormId: string): Promise<StoredResource[]> {
  return (await repo.searchResources({ type: PRESCRIPTION, criteria: [{ any: [{ param: 'short-form', op: 'eq', value: shortFormId }] }], limit: 100 })).sort((a, b) => a.resource.issue.number - b.resource.issue.number);
}

/** The issue a token release acts on: the first one waiting to be dispensed, else the refusal naming the state. */
export function releasableIssue(issues: StoredResource[], shortFormId: string): StoredResource {
  if (issues.length === 0) throw new FhirError(404, 'PRESCRIPTION_NOT_FOUND', `Prescription ${shortFormId} not found`);
  const ready = issues.find((s) => s.resource.status === 'to-be-dispensed');
  if (ready) return ready;
  // report the issue that matters: one with a dispenser, else the first not yet settled, else the last
  const shown = issues.find((s) => String(s.resource.status).startsWith('with-dispenser'))
    ?? issues.find((s) => s.resource.status === 'future') ?? issues[issues.length - 1];
  throw illegalTransition(shown.resource as EpsPrescription, 'released');
}

/** The nominated queue of a pharmacy: issues waiting for it, in store order. */
export async function nominatedQueue(repo: Repository, org: string, limit: number): Promise<string[]> {
  return repo.search({ type: PRESCRIPTION, criteria: [{ any: [{ param: 'queue', op: 'eq', value: org }] }], limit });
}

/**
 * Releases one issue to the caller's pharmacy: with dispenser, its items with it, and the
 * pharmacy's relationship with the patient, in one commit on the version read. Of two pharmacies
 * racing, the store accepts one commit; the other re-reads, finds it with a dispenser and is refused.
 */
export async function releaseIssue(repo: Repository, ctx: RequestContext, id: string, alreadyRead?: StoredResource): Promise<EpsPrescription> {
  const org = ctx.principal!.org;
  for (let attempt = 0; ; attempt++) {
    // a version read moments ago is as good as a fresh one: the commit checks it is still current
    const stored = attempt === 0 && alreadyRead ? alreadyRead : await repo.read(PRESCRIPTION, id);
    if (!stored) throw new FhirError(404, 'PRESCRIPTION_NOT_FOUND', `Prescription issue ${id} not found`);
    const plan = planTransition(ctx, stored.resource as EpsPrescription, stored.version, 'released', (draft) => {
      draft.status = 'with-dispenser';
      draft.dispenser = org;
      for (const item of draft.items) if (item.status === 'to-be-dispensed') item.status = 'with-dispenser';
      return { dispenser: org };
    });
    const p = plan.prescription;
    const rel = p.nominatedPharmacy === org ? null : await prescriptionRelationshipWrite(repo, p.nhsNumber, org, `prescription:${p.longFormId}`, p.expires);
    try {
      await commitPlans(repo, [plan], rel ? [rel] : []);
      return p;
    } catch (err) {
      if (!(err instanceof VersionConflictError) || attempt >= 4) throw err;
    }
  }
}

/** Releases up to `limit` issues from the caller's nominated queue; ones another request took meanwhile are skipped. */
export async function releaseNominated(repo: Repository, ctx: RequestContext, limit: number): Promise<EpsPrescription[]> {
  const released: EpsPrescription[] = [];
  const tried = new Set<string>();
  while (released.length < limit) {
    const ids = (await nominatedQueue(repo, ctx.principal!.org, limit * 2 + tried.size)).filter((id) => !tried.has(id));
    if (ids.length === 0) break;
    for (const id of ids) {
      if (released.length >= limit) break;
      tried.add(id);
      try {
        released.push(await releaseIssue(repo, ctx, id));
      } catch (err) {
        if (!(err instanceof FhirError && err.status === 409)) throw err;
      }
    }
  }
  return released;
}

/**
 * The release answer: a searchset of the original signed messages (what the dispensing system
 * needs), spliced in as stored text rather than parsed and serialised again.
 */
export async function releaseBundleJson(repo: Repository, issues: EpsPrescription[]): Promise<string> {
  const entries: string[] = [];
  for (const p of issues) {
    const order = await repo.readJson(PRESCRIPTION_ORDER, p.longFormId);
    if (!order) throw new Error(`signed message of prescription ${p.longFormId} is missing`);
    entries.push(`{"fullUrl":${JSON.stringify(`urn:uuid:${p.longFormId}`)},"resource":${order.json},"search":{"mode":"match"}}`);
  }
  return `{"resourceType":"Bundle","type":"searchset","timestamp":"${new Date().toISOString()}","total":${issues.length},"entry":[${entries.join(',')}]}`;
}
