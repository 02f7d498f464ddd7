/**
 * Drives EPS the way prescribing and dispensing systems do, over any transport (in-process
 * inject or real HTTP): prepare, sign, submit; release, dispense, withdraw, return, claim, cancel;
 * track.
 */
import { randomUUID } from 'node:crypto';
import type { Repository } from '../../src/store/repository.js';
import {
  claimResource,
  cancellation,
  dispenseNotification,
  EPS,
  GP_ORG,
  orderBundle,
  orderIds,
  PHARMACY,
  registeredKey,
  signDigest,
  withSignature,
  type ItemOutcome,
  type OrderOptions,
  type PrescriberKeyPair,
} from './eps-prescribing.js';

export interface EpsResponse {
  status: number;
  body: any;
  headers: Record<string, unknown>;
}
export type Send = (opts: {
  method: string;
  url: string;
  body?: unknown;
  token: string;
  requestId?: string;
}) => Promise<EpsResponse>;

export interface Actors {
  prescriber: string;
  pharmacy: string;
  otherPharmacy: string;
  patient?: (nhs: string) => Promise<string>;
}

export const PRESCRIBER_USER = 'prescriber-1';

export function codeOf(res: EpsResponse): string | undefined {
  return res.body?.issue?.[0]?.details?.coding?.[0]?.code;
}

/**
 * The cancellation response codes (R-) of a cancellation answer, as EPS publishes it: one per
 * MedicationRequest of a prescription-order-response Bundle, or the OperationOutcome's one.
 */
export function cancellationCodes(res: EpsResponse): string[] {
  if (res.body?.resourceType === 'OperationOutcome') return [codeOf(res)!];
  const header = res.body?.entry?.find(
    (e: any) => e.resource?.resourceType === 'MessageHeader',
  )?.resource;
  if (
    res.body?.resourceType !== 'Bundle' ||
    header?.eventCoding?.code !== 'prescription-order-response'
  )
    return [];
  return res.body.entry
    .filter((e: any) => e.resource.resourceType === 'MedicationRequest')
    .map(
      (e: any) =>
        e.resource.extension
          ?.find((x: any) => String(x.url).endsWith('Extension-DM-PrescriptionStatusHistory'))
          ?.extension?.find((x: any) => x.url === 'status')?.valueCoding?.code,
    );
}

/** A prescription-order-response message Bundle: the published answer to a cancellation, accepted or refused. */
export function isCancellationResponse(res: EpsResponse): boolean {
  return (
    res.body?.resourceType === 'Bundle' &&
    res.body.entry?.[0]?.resource?.eventCoding?.code === 'prescription-order-response'
  );
}

export interface Prescribed {
  ids: { shortFormId: string; longFormId: string; items: string[] };
  signed: any;
  response: EpsResponse;
}

export class EpsClient {
  constructor(
    readonly send: Send,
    readonly tokens: Actors,
    readonly key: PrescriberKeyPair,
  ) {}

  static async forRepo(send: Send, repo: Repository, tokens: Actors): Promise<EpsClient> {
    return new EpsClient(send, tokens, await registeredKey(repo, PRESCRIBER_USER));
  }

  post(url: string, body: unknown, token: string, requestId?: string): Promise<EpsResponse> {
    return this.send({ method: 'POST', url: EPS + url, body, token, requestId });
  }

  /** $prepare (ids assigned by the server), sign the digest, and return the signed message (not yet submitted). */
  async signedOrder(o: OrderOptions, key = this.key): Promise<any> {
    const prepared = await this.post(
      '/$prepare',
      orderBundle({ ...o, withoutIds: true }),
      this.tokens.prescriber,
    );
    if (prepared.status !== 200)
      throw new Error(`$prepare failed ${prepared.status}: ${JSON.stringify(prepared.body)}`);
    const params = prepared.body.parameter as {
      name: string;
      valueString?: string;
      resource?: any;
    }[];
    const digest = params.find((p) => p.name === 'digest')!.valueString!;
    const message = params.find((p) => p.name === 'message')!.resource;
    return withSignature(message, await signDigest(key, digest));
  }

  async prescribe(o: OrderOptions): Promise<Prescribed> {
    const signed = await this.signedOrder(o);
    const response = await this.post('/$process-message', signed, this.tokens.prescriber);
    if (response.status !== 200)
      throw new Error(`prescribe failed ${response.status}: ${JSON.stringify(response.body)}`);
    return { ids: orderIds(signed), signed, response };
  }

  release(
    shortFormId?: string,
    token = this.tokens.pharmacy,
    maxCount?: number,
    owner?: string,
  ): Promise<EpsResponse> {
    const parameter: any[] = [{ name: 'status', valueCode: 'accepted' }];
    if (owner)
      parameter.push({
        name: 'owner',
        resource: {
          resourceType: 'Organization',
          identifier: [{ system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: owner }],
        },
      });
    if (shortFormId)
      parameter.push({
        name: 'group-identifier',
        valueIdentifier: {
          system: 'https://fhir.nhs.uk/Id/prescription-order-number',
          value: shortFormId,
        },
      });
    if (maxCount !== undefined) parameter.push({ name: 'max-count', valueInteger: maxCount });
    return this.post('/Task/$release', { resourceType: 'Parameters', parameter }, token);
  }

  dispense(
    p: Prescribed,
    nhs: string,
    outcomes: ItemOutcome[],
    token = this.tokens.pharmacy,
    messageId?: string,
  ): Promise<EpsResponse> {
    return this.post(
      '/MedicationDispense/$process-message',
      dispenseNotification(p.ids, nhs, outcomes, messageId),
      token,
    );
  }

  /** Every item fully dispensed. */
  dispenseAll(p: Prescribed, nhs: string, token = this.tokens.pharmacy): Promise<EpsResponse> {
    return this.dispense(
      p,
      nhs,
      p.ids.items.map((item) => ({ item, code: '0001' as const, quantity: 20 })),
      token,
    );
  }

  withdraw(
    shortFormId: string,
    token = this.tokens.pharmacy,
    notification?: string,
  ): Promise<EpsResponse> {
    const parameter: any[] = [
      { name: 'group-identifier', valueIdentifier: { value: shortFormId } },
      { name: 'reason', valueCoding: { code: 'MU', display: 'Medication Update' } },
    ];
    if (notification)
      parameter.push({ name: 'dispense-notification', valueIdentifier: { value: notification } });
    return this.post('/Task/$withdraw', { resourceType: 'Parameters', parameter }, token);
  }

  returnToSpine(shortFormId: string, token = this.tokens.pharmacy): Promise<EpsResponse> {
    return this.post(
      '/Task/$return',
      {
        resourceType: 'Parameters',
        parameter: [
          { name: 'group-identifier', valueIdentifier: { value: shortFormId } },
          {
            name: 'reason',
            valueCoding: {
              code: '0002',
              display: 'Unable to dispense medication on prescriptions',
            },
          },
        ],
      },
      token,
    );
  }

  claim(
    p: Prescribed,
    nhs: string,
    token = this.tokens.pharmacy,
    claimId: string = randomUUID(),
  ): Promise<EpsResponse> {
    return this.post('/Claim', claimResource(p.ids.shortFormId, nhs, p.ids.items, claimId), token);
  }

  cancel(p: Prescribed, items?: string[], token = this.tokens.prescriber): Promise<EpsResponse> {
    return this.post('/$process-message', cancellation(p.signed, items), token);
  }

  /** GET /Task?<param>=<value>, the value URL-encoded (a short-form ID may end in '+'). */
  track(
    param: 'focus:identifier' | 'patient:identifier' | null,
    value = '',
    token = this.tokens.prescriber,
  ): Promise<EpsResponse> {
    return this.send({
      method: 'GET',
      url: `${EPS}/Task${param ? `?${param}=${encodeURIComponent(value)}` : ''}`,
      token,
    });
  }
}

/** The business status of the first Task of a response Bundle, and of each item. */
export function statusOf(res: EpsResponse, issue = 0): { status: string; items: string[] } {
  const task = res.body?.entry?.[issue]?.resource;
  const ext = (e: any[], url: string) => e.find((x) => x.url.endsWith(url));
  return {
    status: task?.extension
      ? task.extension
          .filter((e: any) => e.url.endsWith('eps-status-history'))
          .at(-1)
          ?.extension.find((x: any) => x.url === 'to')?.valueCode
      : undefined,
    items: (task?.input ?? []).map((i: any) => ext(i.extension, 'eps-item-status')?.valueCode),
  };
}

export { GP_ORG, PHARMACY };
