import type { Patient } from 'fhir/r4.js';
import { FhirError } from '../../fhir/errors.js';
import type { RequestContext } from '../../context.js';
import { VersionConflictError } from '../../store/errors.js';
import type { ResourceWrite, ResourceStore } from '../../store/resource-store.js';
import { requireCurrentPatient } from '../pds/index.js';
import { bundleDigest } from './canonical-digest.js';
import { addDays, orderSignature, type ValidOrder } from './order-rules.js';
import { prescriptionRelationshipWrite } from './prescription-relationship.js';
import {
  PRESCRIPTION,
  PRESCRIPTION_ORDER,
  prescriptionId,
  type EpsPrescription,
} from './prescription-model.js';
import { verifyPrescriberSignature } from './prescriber-keys.js';
import { replayed } from './dispensing-service.js';
import { commitPlans, planCreation } from './transitions.js';
import type { RecordRequest } from '../write-once.js';

export const NOMINATED_PHARMACY_URL =
  'https://fhir.nhs.uk/R4/StructureDefinition/Extension-UKCore-NominatedPharmacy';
/** Validity of an acute or repeat prescription without an end date, and of a repeat-dispensing course. */
const ACUTE_VALIDITY_DAYS = 180;
const REPEAT_DISPENSING_VALIDITY_DAYS = 365;

export function nominatedPharmacy(patient: Patient): string | undefined {
  const ext = patient.extension?.find((e) => e.url === NOMINATED_PHARMACY_URL);
  const code = ext?.valueReference?.identifier?.value;
  return typeof code === 'string' ? code.toUpperCase() : undefined;
}

/**
 * The patient a prescription is for: known to PDS and current. A number superseded in a merge is
 * refused naming the survivor: the signed message names the old number, so it cannot be moved
 * over; the prescriber re-issues it under the surviving record.
 */
export async function requirePrescribablePatient(
  repo: ResourceStore,
  nhsNumber: string,
): Promise<Patient> {
  const stored = await requireCurrentPatient(repo, nhsNumber);
  return stored.resource;
}

export interface SubmitResult {
  issues: EpsPrescription[];
  /** True when this exact message was accepted before: nothing new was written. */
  duplicate: boolean;
}

async function issuesOf(repo: ResourceStore, longFormId: string): Promise<EpsPrescription[]> {
  return (
    await repo.searchResources({
      type: PRESCRIPTION,
      criteria: [{ any: [{ param: 'long-form', op: 'eq', value: longFormId }] }],
      limit: 100,
    })
  )
    .map((s) => s.resource)
    .sort((a, b) => a.issue.number - b.issue.number);
}

/** An earlier submission of the same prescription id: the same signed content is a duplicate, other content a clash. */
async function earlierSubmission(
  repo: ResourceStore,
  order: ValidOrder,
  digest: string,
): Promise<SubmitResult | null> {
  const sameId = async (): Promise<SubmitResult | null> => {
    const first = await repo.read(PRESCRIPTION, prescriptionId(order.longFormId, 1));
    if (!first) return null;
    if (first.resource.digest !== digest) {
      throw new FhirError(
        409,
        'DUPLICATE_REJECTED',
        `Prescription ${order.longFormId} has already been submitted with different content`,
      );
    }
    return { issues: await issuesOf(repo, order.longFormId), duplicate: true };
  };
  // one index look-up in the common case, a new prescription: nothing with either id yet
  const clashes = await repo.search({
    type: PRESCRIPTION,
    criteria: [
      {
        any: [
          { param: 'long-form', op: 'eq', value: order.longFormId },
          { param: 'short-form', op: 'eq', value: order.shortFormId },
        ],
      },
    ],
    limit: 1,
  });
  if (clashes.length === 0) return null;
  // the same prescription id (a duplicate, or a clash of content), or a twin of this submission that
  // committed meanwhile; otherwise another prescription holds the short-form ID
  const earlier = await sameId();
  if (earlier) return earlier;
  throw new FhirError(
    409,
    'DUPLICATE_REJECTED',
    `Short-form ID ${order.shortFormId} is already in use by another prescription`,
  );
}

function buildIssues(
  order: ValidOrder,
  nominated: string | undefined,
  digest: string,
  prescriberUser: string,
  now: string,
): EpsPrescription[] {
  const today = now.slice(0, 10);
  const courseEnd =
    order.validityEnd ??
    addDays(
      order.validityStart,
      order.type === 'repeat-dispensing' ? REPEAT_DISPENSING_VALIDITY_DAYS : ACUTE_VALIDITY_DAYS,
    );
  return Array.from({ length: order.issues }, (_, i): EpsPrescription => {
    const availableFrom = addDays(order.validityStart, i * order.intervalDays);
    return {
      resourceType: PRESCRIPTION,
      id: prescriptionId(order.longFormId, i + 1),
      longFormId: order.longFormId,
      shortFormId: order.shortFormId,
      nhsNumber: order.nhsNumber,
      type: order.type,
      issue: { number: i + 1, of: order.issues },
      prescriber: { org: order.prescriberOrg, user: prescriberUser },
      ...(nominated ? { nominatedPharmacy: nominated } : {}),
      status: availableFrom <= today ? 'to-be-dispensed' : 'future',
      items: order.items.map((it) => ({ ...it, status: 'to-be-dispensed' as const, supplied: 0 })),
      availableFrom,
      expires: courseEnd,
      digest,
      created: now,
      dispenses: [],
      events: [],
    };
  });
}

/**
 * $process-message for a prescription-order: the signature must verify with the submitting
 * prescriber's registered key and sign exactly this content; a resubmission of an accepted
 * message returns what was stored. Every issue, the signed message, the nominated pharmacy's
 * relationship, the audit entries and the outbox messages commit together.
 */
export async function submitOrder(
  repo: ResourceStore,
  ctx: RequestContext,
  order: ValidOrder,
  patient: Patient,
  record?: RecordRequest,
): Promise<SubmitResult> {
  const digest = bundleDigest(order.msg.bundle);
  const { payload } = await verifyPrescriberSignature(
    repo,
    ctx.principal!.userId,
    orderSignature(order.msg),
  );
  if (payload !== digest)
    throw new FhirError(
      400,
      'SIGNATURE_DIGEST_MISMATCH',
      'The signature is valid but was made over different content: the message changed after it was signed',
    );
  for (let attempt = 0; ; attempt++) {
    const earlier = await earlierSubmission(repo, order, digest);
    if (earlier) {
      await replayed(repo, ctx, earlier.issues[0], { message: order.msg.messageId });
      return earlier;
    }
    const now = new Date().toISOString();
    // PDS is the source of nomination (the message's performer is what the prescribing system believed)
    const nominated = nominatedPharmacy(patient);
    const issues = buildIssues(order, nominated, digest, ctx.principal!.userId, now);
    const plans = issues.map((p) => planCreation(ctx, p, now));
    const extra: ResourceWrite[] = [
      {
        type: PRESCRIPTION_ORDER,
        id: order.longFormId,
        expectedVersion: 0,
        resource: order.msg.bundle,
        index: [{ param: 'short-form', value: order.shortFormId }],
      },
    ];
    if (nominated) {
      const rel = await prescriptionRelationshipWrite(
        repo,
        order.nhsNumber,
        nominated,
        `prescription:${order.longFormId}`,
        issues[issues.length - 1].expires,
      );
      if (rel) extra.push(rel);
    }
    try {
      await commitPlans(repo, plans, extra, record);
      return { issues, duplicate: false };
    } catch (err) {
      // a twin submission committed first (same ids), or the relationship moved on: look again
      if (!(err instanceof VersionConflictError) || attempt >= 3) throw err;
    }
  }
}

export { issuesOf };
