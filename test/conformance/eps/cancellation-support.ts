/**
 * Helpers for the published EPS cancellation examples (test/fixtures/eps/published/cancellation/):
 * make the prescription through OpenSpine ($prepare, sign the digest with a registered key,
 * $process-message) from a published prescription-order, then submit the published
 * cancellation with the published ids replaced, consistently, by the ones OpenSpine holds.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { EpsPlatform } from '../../helpers/eps-platform.js';
import { EPS, orderIds, signDigest, withSignature } from '../../helpers/eps-prescribing.js';
import type { EpsResponse } from '../../helpers/eps-client.js';

const DIR = new URL('../../fixtures/eps/published/cancellation/', import.meta.url);
export const CODE_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/medicationrequest-status-history';

/** A published example by its repository path under examples/. */
export function published(path: string): any {
  return JSON.parse(readFileSync(new URL(path.replace(/\//g, '__'), DIR), 'utf8'));
}

export const requests = (b: any): any[] =>
  b.entry
    .filter((e: any) => e.resource.resourceType === 'MedicationRequest')
    .map((e: any) => e.resource);
export const resourceOf = (b: any, type: string): any =>
  b.entry.find((e: any) => e.resource.resourceType === type)?.resource;

/** The ids a message names: short form, long form, item ids, NHS Number. */
export function namedIds(b: any): {
  shortFormId: string;
  longFormId: string;
  items: string[];
  nhs: string;
} {
  const mrs = requests(b);
  return {
    shortFormId: mrs[0].groupIdentifier.value,
    longFormId: mrs[0].groupIdentifier.extension[0].valueIdentifier.value,
    items: mrs.map((r) => r.identifier[0].value),
    nhs: resourceOf(b, 'Patient').identifier[0].value,
  };
}

/** Every string equal to a key replaced by its value, anywhere in the resource. */
export function substitute<T>(value: T, map: Map<string, string>): T {
  if (typeof value === 'string') return (map.get(value) ?? value) as T;
  if (Array.isArray(value)) return value.map((v) => substitute(v, map)) as T;
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, map)])) as T;
  return value;
}

/**
 * POST as a prescriber's system does (the published answers are OpenSpine's only ones; before they
 * were, EPS_CONFORMANCE_BASELINE=1 left out the header that asked for them).
 */
export async function postPublished(
  t: EpsPlatform,
  url: string,
  body: unknown,
  token: string,
): Promise<EpsResponse> {
  const res = await t.platform.app.inject({
    method: 'POST',
    url: EPS + url,
    payload: JSON.stringify(body),
    headers: {
      'x-request-id': randomUUID(),
      authorization: `Bearer ${token}`,
      'content-type': 'application/fhir+json',
    },
  });
  return {
    status: res.statusCode,
    body: res.body ? JSON.parse(res.body) : undefined,
    headers: res.headers,
  };
}

export interface Made {
  ids: { shortFormId: string; longFormId: string; items: string[] };
  signed: any;
}

/**
 * Prescribes a published prescription-order through OpenSpine for `nhs`: ids left for $prepare to
 * assign (fresh item ids), the validity period moved to today (the published one has passed),
 * the published signature replaced by the test prescriber's over the $prepare digest.
 */
export async function prescribeFrom(
  t: EpsPlatform,
  order: any,
  nhs: string,
  shape?: (b: any) => void,
): Promise<Made> {
  const b = structuredClone(order);
  b.identifier.value = randomUUID();
  b.entry = b.entry.filter((e: any) => e.resource.resourceType !== 'Provenance');
  resourceOf(b, 'Patient').identifier[0].value = nhs;
  for (const r of requests(b)) {
    delete r.groupIdentifier;
    r.identifier[0].value = randomUUID();
    r.dispenseRequest.validityPeriod = { start: new Date().toISOString().slice(0, 10) };
  }
  shape?.(b);
  const prepared = await t.eps.post('/$prepare', b, t.eps.tokens.prescriber);
  if (prepared.status !== 200)
    throw new Error(`$prepare ${prepared.status}: ${JSON.stringify(prepared.body).slice(0, 400)}`);
  const params = prepared.body.parameter as any[];
  const signed = withSignature(
    params.find((p) => p.name === 'message').resource,
    await signDigest(t.eps.key, params.find((p) => p.name === 'digest').valueString),
  );
  const sent = await t.eps.post('/$process-message', signed, t.eps.tokens.prescriber);
  if (sent.status !== 200)
    throw new Error(`$process-message ${sent.status}: ${JSON.stringify(sent.body).slice(0, 400)}`);
  return { ids: orderIds(signed), signed };
}

/** The published cancellation naming what OpenSpine holds: its ids mapped onto `made`'s, fresh message id. */
export function cancellationFor(cancel: any, made: Made, nhs: string): any {
  const named = namedIds(cancel);
  const map = new Map<string, string>([
    [named.shortFormId, made.ids.shortFormId],
    [named.longFormId, made.ids.longFormId],
    [named.nhs, nhs],
  ]);
  named.items.forEach((id, i) => map.set(id, made.ids.items[i]));
  const b = substitute(cancel, map);
  b.identifier.value = randomUUID();
  return b;
}

/** The parts of a cancellation answer the published examples fix, for comparing like with like. */
export function answerShape(body: any): unknown {
  if (body?.resourceType === 'OperationOutcome') {
    return {
      resourceType: 'OperationOutcome',
      issue: body.issue.map((i: any) => ({
        severity: i.severity,
        code: i.code,
        coding: i.details?.coding?.map((c: any) => ({
          system: c.system,
          code: c.code,
          display: c.display,
        })),
      })),
    };
  }
  if (body?.resourceType !== 'Bundle')
    return { resourceType: body?.resourceType, body: JSON.stringify(body).slice(0, 300) };
  const header = resourceOf(body, 'MessageHeader');
  return {
    resourceType: 'Bundle',
    type: body.type,
    event: header && { system: header.eventCoding?.system, code: header.eventCoding?.code },
    responseCode: header?.response?.code,
    items: requests(body).map((r) => {
      const history = r.extension?.find((x: any) =>
        String(x.url).endsWith('Extension-DM-PrescriptionStatusHistory'),
      );
      const status = history?.extension?.find((x: any) => x.url === 'status')?.valueCoding;
      return {
        status: r.status,
        history: status && { system: status.system, code: status.code, display: status.display },
      };
    }),
  };
}
