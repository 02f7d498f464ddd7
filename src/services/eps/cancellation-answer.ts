/**
 * The published answer to an EPS cancellation: the response codes (R-0001 ... R-5888) and the
 * prescription-order-response Bundle or OperationOutcome that carries them. Apart from parsing and
 * applying so the wire shape of the answer can be read in one place.
 */
import { randomUUID } from 'node:crypto';
import { ORDER_ITEM_SYSTEM } from './message-bundle.js';
import { ODS_SYSTEM } from '../../fhir/identifiers.js';

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
