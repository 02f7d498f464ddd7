import { randomUUID } from 'node:crypto';
import { FhirError } from '../../fhir/errors.js';
import type { RequestContext } from '../../context.js';
import { VersionConflictError } from '../../store/errors.js';
import type { Repository } from '../../store/repository.js';
import {
  codingOf,
  groupIds,
  identifierValue,
  messagePatient,
  odsOf,
  ofType,
  ORDER_ITEM_SYSTEM,
  readMessageBundle,
} from './message-bundle.js';
import { PRESCRIPTION, type EpsPrescription } from './prescription-model.js';
import { commitPlans, planTransition } from './transitions.js';
import { ODS_SYSTEM } from '../../fhir/identifiers.js';

export const CANCEL_REASON_SYSTEM =
  'https://fhir.nhs.uk/CodeSystem/medicationrequest-status-reason';

export interface ValidCancellation {
  longFormId: string;
  shortFormId: string;
  nhsNumber: string;
  org: string;
  items: string[];
  reason: { code: string; display?: string };
}

/** A prescription-order-update cancelling items (every MedicationRequest with status 'cancelled' and a reason). */
export function validateCancellation(body: unknown, callerOrg: string): ValidCancellation {
  const msg = readMessageBundle(body, ['prescription-order-update']);
  const org = odsOf(msg.header.sender);
  if (!org)
    throw new FhirError(
      400,
      'INVALID_VALUE',
      'MessageHeader.sender must identify the prescribing organisation by ODS code',
    );
  if (org !== callerOrg.toUpperCase())
    throw new FhirError(
      403,
      'ACCESS_DENIED',
      `The message is sent by ${org}, but the caller acts for ${callerOrg || '(no organisation)'}`,
    );
  const { nhsNumber } = messagePatient(msg);
  const requests = ofType(msg, 'MedicationRequest');
  if (requests.length === 0)
    throw new FhirError(
      400,
      'INVALID_VALUE',
      'A cancellation names the items it cancels as MedicationRequests',
    );
  const first = groupIds(requests[0]);
  let reason: ValidCancellation['reason'] | undefined;
  const items = requests.map((r, i) => {
    const ids = groupIds(r);
    if (ids.longFormId !== first.longFormId || ids.shortFormId !== first.shortFormId)
      throw new FhirError(
        400,
        'INVALID_VALUE',
        `MedicationRequest[${i}] names a different prescription`,
      );
    if (r.status !== 'cancelled')
      throw new FhirError(
        400,
        'INVALID_VALUE',
        `MedicationRequest[${i}].status must be 'cancelled'`,
      );
    const why = codingOf(r.statusReason, CANCEL_REASON_SYSTEM);
    if (!why)
      throw new FhirError(
        400,
        'INVALID_CODE',
        `MedicationRequest[${i}].statusReason must give the reason (${CANCEL_REASON_SYSTEM})`,
      );
    reason ??= { code: why.code, ...(why.display ? { display: why.display } : {}) };
    const id = identifierValue(r, ORDER_ITEM_SYSTEM);
    if (!id)
      throw new FhirError(
        400,
        'INVALID_VALUE',
        `MedicationRequest[${i}] must identify the item (${ORDER_ITEM_SYSTEM})`,
      );
    return id.toLowerCase();
  });
  return {
    longFormId: first.longFormId!,
    shortFormId: first.shortFormId!,
    nhsNumber,
    org,
    items,
    reason: reason!,
  };
}

/**
 * Cancellation as NHS England's EPS publishes it (the prescription-order-update section of the
 * EPS FHIR API specification): the answer is a prescription-order-response message Bundle whose
 * MedicationRequests carry the cancellation response code (R-0001 cancelled, R-0002 ... R-0010 not
 * cancelled, with the reason) in the medicationrequest-status-history code system, 200 when items
 * were cancelled and 400 otherwise; a prescription or item not found (R-0008) and a cancellation
 * that does not match its prescription (R-5000) are 400 OperationOutcomes with that code.
 * A cancellation arriving while the issue is with a dispenser marks it for cancellation
 * (transition 'cancellation-requested', status unchanged): R-0002 / R-0003; a further one from
 * another prescriber is answered R-0007 and changes nothing.
 * These are the only answers, for every client.
 */
export const CANCELLATION_RESPONSE_SYSTEM =
  'https://fhir.nhs.uk/CodeSystem/medicationrequest-status-history';
export const CANCELLATION_RESPONSES = {
  'R-0001': 'Prescription/item was cancelled',
  'R-0002': 'Prescription/item was not cancelled. With dispenser. Marked for cancellation',
  'R-0003': 'Prescription/item was not cancelled. With dispenser active. Marked for cancellation',
  'R-0004': 'Prescription/item was not cancelled. Prescription has been dispensed.',
  'R-0005': 'Prescription/item has expired',
  'R-0006': 'Prescription/item had already been cancelled',
  'R-0007': 'Prescription/item cancellation requested by another prescriber',
  'R-0008': 'Prescription/item not found',
  'R-0009': 'Cancellation functionality disabled in SPINE',
  'R-0010': 'Prescription/item was not cancelled. Prescription has been not dispensed.',
  'R-5000': 'Unable to process message. Information missing or invalid',
  'R-5888': 'Invalid Message.',
} as const;
export type CancellationCode = keyof typeof CANCELLATION_RESPONSES;
/** The published answer sender: NHS Spine's own ODS code. */
const SPINE_ODS = 'X2601';

export type PublishedCancellation =
  | { kind: 'bundle'; status: 200 | 400; codes: Map<string, CancellationCode>; time: string }
  | {
      kind: 'outcome';
      code: CancellationCode;
      issueType: 'not-found' | 'processing';
      detail?: string;
    };

/** What the published EPS does with this cancellation, applied: the codes per item, or the OperationOutcome code. */
export async function applyPublishedCancellation(
  repo: Repository,
  ctx: RequestContext,
  c: ValidCancellation,
): Promise<PublishedCancellation> {
  const user = ctx.principal?.userId ?? 'system';
  for (let attempt = 0; ; attempt++) {
    const stored = (
      await repo.searchResources({
        type: PRESCRIPTION,
        criteria: [{ any: [{ param: 'long-form', op: 'eq', value: c.longFormId }] }],
        limit: 100,
      })
    ).sort((a, b) => a.resource.issue.number - b.resource.issue.number);
    if (stored.length === 0) return { kind: 'outcome', code: 'R-0008', issueType: 'not-found' };
    const first = stored[0].resource;
    if (first.nhsNumber !== c.nhsNumber)
      return {
        kind: 'outcome',
        code: 'R-5000',
        issueType: 'processing',
        detail: 'Mismatch between prescription and cancellation NHSNumber',
      };
    if (first.shortFormId !== c.shortFormId)
      return {
        kind: 'outcome',
        code: 'R-5000',
        issueType: 'processing',
        detail: 'Mismatch between prescription and cancellation prescription ID',
      };
    if (first.prescriber.org !== c.org)
      throw new FhirError(
        403,
        'ACCESS_DENIED',
        `Only the prescribing organisation ${first.prescriber.org} may cancel this prescription`,
      );
    if (c.items.some((id) => !first.items.some((it) => it.id === id)))
      return { kind: 'outcome', code: 'R-0008', issueType: 'not-found' };
    const time = new Date().toISOString();
    const all = (code: CancellationCode) => new Map(c.items.map((id) => [id, code]));
    const waiting = stored.filter(
      (s) => s.resource.status === 'future' || s.resource.status === 'to-be-dispensed',
    );
    let plans: ReturnType<typeof planTransition>[] = [];
    let answer: PublishedCancellation;
    if (waiting.length > 0) {
      const live = c.items.filter((id) =>
        waiting.some((s) =>
          s.resource.items.some((it) => it.id === id && it.status !== 'cancelled'),
        ),
      );
      if (live.length === 0) return { kind: 'bundle', status: 400, codes: all('R-0006'), time };
      plans = waiting.map((s) =>
        planTransition(
          ctx,
          s.resource,
          s.version,
          'cancelled',
          (draft) => {
            for (const item of draft.items)
              if (live.includes(item.id)) {
                item.status = 'cancelled';
                item.reason = c.reason;
              }
            if (draft.items.every((it) => it.status === 'cancelled')) draft.status = 'cancelled';
            return { reason: c.reason, items: live };
          },
          time,
        ),
      );
      answer = {
        kind: 'bundle',
        status: 200,
        codes: new Map(c.items.map((id) => [id, live.includes(id) ? 'R-0001' : 'R-0006'])),
        time,
      };
    } else {
      const latestStored =
        [...stored]
          .reverse()
          .find((s) => s.resource.status !== 'expired' && s.resource.status !== 'cancelled') ??
        stored[stored.length - 1];
      const latest = latestStored.resource;
      const withDispenser =
        latest.status === 'with-dispenser' || latest.status === 'with-dispenser-active';
      if (!withDispenser) {
        const code: CancellationCode =
          latest.status === 'not-dispensed'
            ? 'R-0010'
            : latest.status === 'expired'
              ? 'R-0005'
              : latest.status === 'cancelled'
                ? 'R-0006'
                : 'R-0004';
        return { kind: 'bundle', status: 400, codes: all(code), time };
      }
      const code: CancellationCode = latest.status === 'with-dispenser' ? 'R-0002' : 'R-0003';
      const pending = pendingCancellation(latest);
      if (pending && pending.user !== user)
        return { kind: 'bundle', status: 400, codes: all('R-0007'), time };
      if (!pending) {
        plans = [
          planTransition(
            ctx,
            latest,
            latestStored.version,
            'cancellation-requested',
            () => ({ reason: c.reason, items: c.items }),
            time,
          ),
        ];
      }
      answer = { kind: 'bundle', status: 400, codes: all(code), time };
    }
    try {
      if (plans.length) await commitPlans(repo, plans);
      return answer;
    } catch (err) {
      if (!(err instanceof VersionConflictError) || attempt >= 3) throw err;
    }
  }
}

/** The cancellation request standing on an issue with a dispenser: the last one since it was last released. */
export function pendingCancellation(
  p: EpsPrescription,
): EpsPrescription['events'][number] | undefined {
  const since = p.events.map((e) => e.transition).lastIndexOf('released');
  return p.events
    .slice(since + 1)
    .reverse()
    .find((e) => e.transition === 'cancellation-requested');
}

/** The published answer: a prescription-order-response Bundle, or an OperationOutcome, with its HTTP status. */
export function publishedCancellationAnswer(
  result: PublishedCancellation,
  request: Record<string, any>,
  baseUrl: string,
): { status: number; body: Record<string, unknown> } {
  if (result.kind === 'outcome') {
    const display =
      result.code === 'R-5000' && result.detail
        ? `${CANCELLATION_RESPONSES[result.code]} - ${result.detail}`
        : CANCELLATION_RESPONSES[result.code];
    return {
      status: 400,
      body: {
        resourceType: 'OperationOutcome',
        issue: [
          {
            severity: 'error',
            code: result.issueType,
            details: {
              coding: [{ system: CANCELLATION_RESPONSE_SYSTEM, code: result.code, display }],
            },
          },
        ],
      },
    };
  }
  const entries: { fullUrl: string; resource: Record<string, any> }[] = (
    request.entry ?? []
  ).filter(
    (e: any) => e?.resource && !['MessageHeader', 'Provenance'].includes(e.resource.resourceType),
  );
  const header =
    (request.entry ?? []).find((e: any) => e?.resource?.resourceType === 'MessageHeader')
      ?.resource ?? {};
  const requester = header.sender?.identifier?.value;
  const out = entries.map((e) => {
    const r = structuredClone(e.resource);
    if (r.resourceType === 'MedicationRequest') {
      const id = String(
        (r.identifier ?? []).find((i: any) => i?.system === ORDER_ITEM_SYSTEM)?.value ?? '',
      ).toLowerCase();
      const code = result.codes.get(id) ?? 'R-0008';
      if (code !== 'R-0001') {
        r.status = 'active';
        delete r.statusReason;
      }
      r.extension = [
        ...(r.extension ?? []).filter(
          (x: any) => !String(x?.url).endsWith('Extension-DM-PrescriptionStatusHistory'),
        ),
        {
          url: 'https://fhir.nhs.uk/StructureDefinition/Extension-DM-PrescriptionStatusHistory',
          extension: [
            {
              url: 'status',
              valueCoding: {
                system: CANCELLATION_RESPONSE_SYSTEM,
                code,
                display: CANCELLATION_RESPONSES[code],
              },
            },
            { url: 'statusDate', valueDateTime: result.time },
          ],
        },
      ];
    }
    return { fullUrl: e.fullUrl, resource: r };
  });
  const focus = out
    .filter((e) => e.resource.resourceType === 'MedicationRequest')
    .map((e) => ({ reference: e.fullUrl }));
  return {
    status: result.status,
    body: {
      resourceType: 'Bundle',
      id: randomUUID(),
      identifier: { system: 'https://tools.ietf.org/html/rfc4122', value: randomUUID() },
      timestamp: result.time,
      type: 'message',
      entry: [
        {
          fullUrl: `urn:uuid:${randomUUID()}`,
          resource: {
            resourceType: 'MessageHeader',
            ...(typeof request.id === 'string'
              ? {
                  extension: [
                    {
                      url: 'https://fhir.nhs.uk/StructureDefinition/Extension-MessageHeader-messageId',
                      valueIdentifier: {
                        system: 'https://tools.ietf.org/html/rfc4122',
                        value: request.id,
                      },
                    },
                  ],
                }
              : {}),
            eventCoding: {
              system: 'https://fhir.nhs.uk/CodeSystem/message-event',
              code: 'prescription-order-response',
              display: 'Prescription Order Response',
            },
            ...(requester
              ? {
                  destination: [
                    {
                      endpoint: header.source?.endpoint ?? `urn:nhs-uk:addressing:ods:${requester}`,
                      receiver: { identifier: { system: ODS_SYSTEM, value: requester } },
                    },
                  ],
                }
              : {}),
            sender: {
              identifier: { system: ODS_SYSTEM, value: SPINE_ODS },
              display: 'NHS Digital Spine',
            },
            source: { name: 'NHS Spine', endpoint: `${baseUrl}/$process-message` },
            response: { identifier: String(request.identifier?.value ?? ''), code: 'ok' },
            focus,
          },
        },
        ...out,
      ],
    },
  };
}
