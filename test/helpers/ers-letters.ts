/**
 * Shared set-up for the e-RS letter, attachment and patient tests: a platform holding the patients
 * and directory services the published createReferral example names, referrals made through
 * $ers.createReferral, raw uploads to the document store (a020), and the text of a generated PDF.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { inflateSync } from 'node:zlib';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { ersProfileFields } from '../../src/services/directory/index.js';
import { commitPatients, currentJane, repoRoot, withNhsNumber } from './pds-fixtures.js';
import type { TestPlatform } from './platform.js';

export const STU3 = '/referrals/FHIR/STU3';
export const ORG = 'A81001';
export const OTHER_ORG = 'B82001';
export const PROVIDER_ORG = 'RCF01';
/** The patient the published createReferral examples name, and a second patient. */
export const PATIENT = '9912003888';
export const OTHER_PATIENT = '9000000041';
const ERS_PROFILE = 'https://fhir.nhs.uk/STU3/StructureDefinition/eRS-OperationOutcome-1';
const ERS_CODES = 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-APIErrorCode-1';

export const published = (name: string): any =>
  JSON.parse(readFileSync(resolve(repoRoot, 'test/fixtures/ers/published', name), 'utf8'));
export const publishedBytes = (name: string): Buffer =>
  readFileSync(resolve(repoRoot, 'test/fixtures/ers/published', name));

/** Patients and the directory services of the published minimal createReferral request. */
export async function seedReferralWorld(platform: TestPlatform): Promise<void> {
  await commitPatients(platform.repo, [
    withNhsNumber(currentJane(), PATIENT),
    withNhsNumber(currentJane(), OTHER_PATIENT),
  ]);
  const ids = published('createReferral-MinimalRequest.json')
    .parameter.find((p: any) => p.name === 'shortlist')
    .resource.entry.map((e: any) => e.item.identifier.value as string);
  await platform.repo.commit({
    resources: ids.map((id: string) => ({
      type: 'HealthcareService',
      id,
      expectedVersion: 0,
      resource: {
        resourceType: 'HealthcareService',
        id,
        active: true,
        name: `Service ${id}`,
        // offered on e-RS by PROVIDER_ORG (the directory's e-RS profile)
        providedBy: {
          identifier: {
            system: 'https://fhir.nhs.uk/Id/ods-organization-code',
            value: PROVIDER_ORG,
          },
        },
        ...ersProfileFields({
          specialty: 'CARDIOLOGY',
          clinicTypes: ['HEART_FAILURE'],
          flow: 'BOOKABLE',
          bookable: 'DIRECTLY_BOOKABLE',
          priorities: ['ROUTINE', 'URGENT'],
          adviceAndGuidance: false,
        }),
      },
      index: [],
    })),
  });
}

/** The published minimal createReferral request for `nhs`, its pathway start moved to yesterday. */
export function createBody(nhs = PATIENT): any {
  const body = published('createReferral-MinimalRequest.json');
  const param = (name: string) => body.parameter.find((p: any) => p.name === name);
  param('eReferralPathwayStart').valueInstant = new Date(Date.now() - 86_400_000).toISOString();
  param('patient').valueIdentifier.value = nhs;
  return body;
}

export interface ErsCall {
  method?: string;
  url: string;
  body?: unknown;
  headers?: Record<string, string>;
  businessFunction?: string | null;
  ods?: string | null;
  token?: string;
  app?: FastifyInstance;
}

/** A request to the e-RS API with the published headers (a referrer at ORG unless told). */
export async function ers(platform: TestPlatform, opts: ErsCall): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = { 'x-request-id': randomUUID() };
  if (opts.businessFunction !== null)
    headers['nhsd-ers-business-function'] = opts.businessFunction ?? 'REFERRING_CLINICIAN';
  if (opts.ods !== null) headers['nhsd-end-user-organisation-ods'] = opts.ods ?? ORG;
  const token = opts.token ?? (await platform.token('R8000', { org: ORG, user: 'referrer' }));
  headers.authorization = `Bearer ${token}`;
  const raw = Buffer.isBuffer(opts.body);
  if (opts.body !== undefined && !raw) headers['content-type'] = 'application/fhir+json';
  return (opts.app ?? platform.app).inject({
    method: (opts.method ?? 'GET') as 'GET',
    url: opts.url,
    headers: { ...headers, ...opts.headers },
    payload:
      opts.body === undefined
        ? undefined
        : raw || typeof opts.body === 'string'
          ? (opts.body as string)
          : JSON.stringify(opts.body),
  });
}

/** A new referral of ORG for `nhs`; its UBRN. */
export async function createReferral(platform: TestPlatform, nhs = PATIENT): Promise<string> {
  const res = await ers(platform, {
    method: 'POST',
    url: `${STU3}/ReferralRequest/$ers.createReferral`,
    body: createBody(nhs),
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json().id;
}

/** a020: raw bytes with Content-Type and NHSD-eRS-File-Name (and the referral, when given). */
export function upload(
  platform: TestPlatform,
  opts: {
    data: Buffer | string;
    contentType?: string | null;
    fileName?: string | null;
    ubrn?: string | null;
    headers?: Record<string, string>;
  } & Omit<ErsCall, 'url' | 'body'>,
): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = {};
  if (opts.contentType !== null) headers['content-type'] = opts.contentType ?? 'text/plain';
  if (opts.fileName !== null) headers['nhsd-ers-file-name'] = opts.fileName ?? 'letter.txt';
  if (opts.ubrn) headers['nhsd-ers-referral-id'] = opts.ubrn;
  return ers(platform, {
    ...opts,
    method: 'POST',
    url: `${STU3}/Binary`,
    body: Buffer.isBuffer(opts.data) ? opts.data : Buffer.from(opts.data),
    headers: { ...headers, ...opts.headers },
  });
}

/** The id of an uploaded file from a020's Location (Binary/{id}). */
export function uploadedId(res: LightMyRequestResponse): string {
  assert.equal(res.statusCode, 201, res.body);
  const m = /^Binary\/([0-9a-f-]{36})$/.exec(String(res.headers.location));
  assert.ok(m, `Location ${res.headers.location}`);
  return m[1];
}

/** The eRS STU3 refusal shape, with its status and eRS error code. */
export function assertErs(res: LightMyRequestResponse, status: number, code: string): any {
  assert.equal(res.statusCode, status, res.body);
  const outcome = res.json();
  assert.equal(outcome.resourceType, 'OperationOutcome');
  assert.deepEqual(outcome.meta.profile, [ERS_PROFILE]);
  assert.equal(outcome.issue[0].details.coding[0].system, ERS_CODES);
  assert.equal(outcome.issue[0].details.coding[0].code, code, res.body);
  assert.ok(outcome.issue[0].diagnostics);
  return outcome;
}

/**
 * The text drawn on a PDF's pages: pdf-lib writes standard-font text as hex strings shown with Tj,
 * in Flate-compressed content streams.
 */
export function pdfText(pdf: Buffer): string {
  const raw = pdf.toString('latin1');
  const texts: string[] = [];
  const streams = /stream\r?\n/g;
  let m: RegExpExecArray | null;
  while ((m = streams.exec(raw))) {
    const start = m.index + m[0].length;
    const end = raw.indexOf('endstream', start);
    if (end < 0) break;
    let content: string;
    try {
      content = inflateSync(pdf.subarray(start, end)).toString('latin1');
    } catch {
      content = raw.slice(start, end);
    }
    for (const t of content.matchAll(/<([0-9A-Fa-f]+)>\s*Tj/g))
      texts.push(Buffer.from(t[1], 'hex').toString('latin1'));
  }
  return texts.join('\n');
}

/** The referral state code of a ReferralRequest. */
export const stateOf = (referral: any): string =>
  referral.extension
    .find((e: any) => e.url.endsWith('Extension-eRS-ReferralState-1'))
    .extension.find((e: any) => e.url === 'state').valueCoding.code;
