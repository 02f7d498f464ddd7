import { randomUUID } from 'node:crypto';
import { FhirError, operationOutcome } from '../../fhir/errors.js';
import type { RequestContext } from '../../context.js';
import { VersionConflictError } from '../../store/errors.js';
import type { StoredResource, ResourceStore } from '../../store/resource-store.js';
import { prescriptionRelationshipWrite } from './prescription-relationship.js';
import { ORGANIZATION } from '../directory/index.js';
import { PRESCRIPTION, PRESCRIPTION_ORDER, type EpsPrescription } from './prescription-model.js';
import { commitPlans, illegalTransition, planTransition } from './transitions.js';
import type { RecordRequest } from '../write-once.js';
import { ODS_SYSTEM } from '../../fhir/identifiers.js';

/** NHS England's EPS issue codes (examples/spec/errors/release/with-another-dispenser-error.json). */
export const EPS_ISSUE_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/EPS-IssueCode';

/** How many nominated prescriptions one release request may take. */
export const MAX_NOMINATED_RELEASE = 50;

export type ReleaseRequest =
  { kind: 'nominated'; limit: number } | { kind: 'single'; shortFormId: string };

export async function issuesByShortForm(
  repo: ResourceStore,
  shortFormId: string,
): Promise<StoredResource<EpsPrescription>[]> {
  return (
    await repo.searchResources({
      type: PRESCRIPTION,
      criteria: [{ any: [{ param: 'short-form', op: 'eq', value: shortFormId }] }],
      limit: 100,
    })
  ).sort((a, b) => a.resource.issue.number - b.resource.issue.number);
}

/**
 * A release refused because another pharmacy holds the issue, as EPS answers it: 400
 * PRESCRIPTION_WITH_ANOTHER_DISPENSER, the other pharmacy in OperationOutcome.contained
 * (see releaseRefusalBody).
 */
export class WithAnotherDispenser extends FhirError {
  constructor(readonly holder: EpsPrescription) {
    super(
      400,
      'PRESCRIPTION_WITH_ANOTHER_DISPENSER',
      `Prescription ${holder.shortFormId} issue ${holder.issue.number} is '${holder.status}' with another dispenser (${holder.dispenser})`,
    );
  }
}

/** Held by a pharmacy other than `org` (a pharmacy asking again for what it holds is a state refusal instead). */
function heldByAnother(p: EpsPrescription, org: string | undefined): boolean {
  return (
    org !== undefined &&
    !!p.dispenser &&
    p.status.startsWith('with-dispenser') &&
    p.dispenser.toUpperCase() !== org.toUpperCase()
  );
}

/**
 * The issue a token release acts on: the first one waiting to be dispensed, else the refusal:
 * as EPS publishes them, 400 RESOURCE_NOT_FOUND for a prescription Spine does not hold and 400
 * PRESCRIPTION_WITH_ANOTHER_DISPENSER for one another pharmacy holds; otherwise the state refusal.
 */
export function releasableIssue(
  issues: StoredResource<EpsPrescription>[],
  shortFormId: string,
  org?: string,
): StoredResource<EpsPrescription> {
  if (issues.length === 0)
    throw new FhirError(
      400,
      'RESOURCE_NOT_FOUND',
      `Prescription ${shortFormId} not found`,
      {},
      { severity: 'error' },
    );
  const ready = issues.find((s) => s.resource.status === 'to-be-dispensed');
  if (ready) return ready;
  // report the issue that matters: one with a dispenser, else the first not yet settled, else the last
  const shown =
    issues.find((s) => String(s.resource.status).startsWith('with-dispenser')) ??
    issues.find((s) => s.resource.status === 'future') ??
    issues[issues.length - 1];
  if (heldByAnother(shown.resource, org)) throw new WithAnotherDispenser(shown.resource);
  throw illegalTransition(shown.resource, 'released');
}

/**
 * The published body of a WithAnotherDispenser refusal: the EPS issue code, and the pharmacy
 * holding the prescription contained (from the directory where it knows it), referenced by the
 * Spine supportingInfo extension.
 */
export async function releaseRefusalBody(
  repo: ResourceStore,
  err: WithAnotherDispenser,
): Promise<Record<string, unknown>> {
  const ods = err.holder.dispenser!;
  const known = (await repo.read(ORGANIZATION, ods))?.resource as
    Record<string, unknown> | undefined;
  const id = randomUUID();
  const organization = {
    resourceType: 'Organization',
    id,
    identifier: [{ system: ODS_SYSTEM, value: ods }],
    ...(typeof known?.name === 'string' ? { name: known.name } : {}),
    ...(Array.isArray(known?.telecom) ? { telecom: known.telecom } : {}),
    ...(Array.isArray(known?.address) ? { address: known.address } : {}),
  };
  const outcome = operationOutcome(err.spineCode, err.diagnostics, 'error', err.status);
  for (const issue of outcome.issue)
    for (const c of issue.details?.coding ?? []) {
      c.system = EPS_ISSUE_SYSTEM;
      delete c.version;
    }
  return {
    ...outcome,
    meta: { lastUpdated: new Date().toISOString() },
    contained: [organization],
    extension: [
      {
        url: 'https://fhir.nhs.uk/StructureDefinition/Extension-Spine-supportingInfo',
        valueReference: { reference: `#${id}` },
      },
    ],
  };
}

/** The nominated queue of a pharmacy: issues waiting for it, in store order. */
export async function nominatedQueue(
  repo: ResourceStore,
  org: string,
  limit: number,
): Promise<string[]> {
  return repo.search({
    type: PRESCRIPTION,
    criteria: [{ any: [{ param: 'queue', op: 'eq', value: org }] }],
    limit,
  });
}

/**
 * Releases one issue to the caller's pharmacy: with dispenser, its items with it, and the
 * pharmacy's relationship with the patient, in one commit on the version read. Of two pharmacies
 * racing, the store accepts one commit; the other re-reads, finds it with the winner and is refused
 * (400 PRESCRIPTION_WITH_ANOTHER_DISPENSER).
 */
export async function releaseIssue(
  repo: ResourceStore,
  ctx: RequestContext,
  id: string,
  alreadyRead?: StoredResource<EpsPrescription>,
  record?: RecordRequest,
  inRecordedRequest = record !== undefined,
): Promise<EpsPrescription> {
  const org = ctx.principal!.org;
  for (let attempt = 0; ; attempt++) {
    // a version read moments ago is as good as a fresh one: the commit checks it is still current
    const stored = attempt === 0 && alreadyRead ? alreadyRead : await repo.read(PRESCRIPTION, id);
    if (!stored)
      throw new FhirError(404, 'PRESCRIPTION_NOT_FOUND', `Prescription issue ${id} not found`);
    // of two pharmacies racing, the one that lost finds the other holding it
    if (heldByAnother(stored.resource, org)) throw new WithAnotherDispenser(stored.resource);
    const plan = planTransition(ctx, stored.resource, stored.version, 'released', (draft) => {
      draft.status = 'with-dispenser';
      draft.dispenser = org;
      for (const item of draft.items)
        if (item.status === 'to-be-dispensed') item.status = 'with-dispenser';
      // the request that released it, so that its retry finds what it released (releasedBy)
      return { dispenser: org, ...(inRecordedRequest ? { request: ctx.requestId } : {}) };
    });
    const p = plan.prescription;
    const rel =
      p.nominatedPharmacy === org
        ? null
        : await prescriptionRelationshipWrite(
            repo,
            p.nhsNumber,
            org,
            `prescription:${p.longFormId}`,
            p.expires,
          );
    try {
      await commitPlans(repo, [plan], rel ? [rel] : [], record);
      return p;
    } catch (err) {
      if (!(err instanceof VersionConflictError) || attempt >= 4) throw err;
    }
  }
}

/** Releases up to `limit` issues from the caller's nominated queue; ones another request took meanwhile are skipped. */
export async function releaseNominated(
  repo: ResourceStore,
  ctx: RequestContext,
  limit: number,
  record?: RecordRequest,
): Promise<EpsPrescription[]> {
  const released: EpsPrescription[] = [];
  const tried = new Set<string>();
  while (released.length < limit) {
    const ids = (await nominatedQueue(repo, ctx.principal!.org, limit * 2 + tried.size)).filter(
      (id) => !tried.has(id),
    );
    if (ids.length === 0) break;
    for (const id of ids) {
      if (released.length >= limit) break;
      tried.add(id);
      try {
        // the X-Request-ID record commits with the first release; the others are found by it
        released.push(
          await releaseIssue(
            repo,
            ctx,
            id,
            undefined,
            released.length ? undefined : record,
            record !== undefined,
          ),
        );
      } catch (err) {
        if (!(
          err instanceof WithAnotherDispenser ||
          (err instanceof FhirError && err.status === 409)
        ))
          throw err;
      }
    }
  }
  return released;
}

/** The issues one request released (its retry's answer), by the request recorded on each release. */
export async function releasedBy(
  repo: ResourceStore,
  requestId: string,
): Promise<EpsPrescription[]> {
  const found = await repo.searchResources({
    type: PRESCRIPTION,
    criteria: [{ any: [{ param: 'released-by', op: 'eq', value: requestId }] }],
    limit: 1000,
  });
  return found.map((s) => s.resource);
}

/**
 * The release answer: a searchset of the original signed messages (what the dispensing system
 * needs), spliced in as stored text rather than parsed and serialised again.
 */
export async function releaseBundleJson(
  repo: ResourceStore,
  issues: EpsPrescription[],
): Promise<string> {
  const entries: string[] = [];
  for (const p of issues) {
    const order = await repo.readJson(PRESCRIPTION_ORDER, p.longFormId);
    if (!order) throw new Error(`signed message of prescription ${p.longFormId} is missing`);
    entries.push(
      `{"fullUrl":${JSON.stringify(`urn:uuid:${p.longFormId}`)},"resource":${order.json},"search":{"mode":"match"}}`,
    );
  }
  return `{"resourceType":"Bundle","type":"searchset","timestamp":"${new Date().toISOString()}","total":${issues.length},"entry":[${entries.join(',')}]}`;
}
