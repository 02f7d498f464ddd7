/**
 * Route fuzzing: every route the platform registers (from the access-control route table, which an
 * onRoute hook fills) gets a seeded, bounded batch of hostile requests: path parameters plausible
 * and hostile (bad percent-encoding, over-long, traversal), odd query strings and repeated
 * parameters, malformed bodies (truncated JSON, wrong types, deep nesting inside a valid body,
 * huge arrays, NUL, invalid UTF-8, wrong content types, form bodies, empty) and malformed headers
 * (X-Request-ID, If-Match, Authorization, Accept), sent with a valid token of a role the route
 * allows so that most of them reach the service.
 *
 * Asserted for every answer: no 5xx; every error is an OperationOutcome with a code from the Spine
 * error code system, except on the /oauth2 routes, where the token, revocation and userinfo
 * endpoints answer RFC 6749 error JSON and the browser-facing sign-in pages (/oauth2/authorize,
 * /oauth2/dev-callback) answer HTML error pages, which are exempt. A request that never reached a
 * route (its path was broken on purpose) is an OperationOutcome wherever it was aimed.
 *
 * Then the refused requests are sent again as one batch, and nothing may change: the counts of
 * every resource type, the versions of the seeded records, the outbox, the request log (no refused
 * X-Request-ID is recorded) and no commit other than audit entries while the batch runs. Audit
 * entries for refusals are expected.
 *
 * The seed is printed; OPENSPINE_FUZZ_SEED=<n> repeats a run (OPENSPINE_FUZZ_CASES sets the cases per route).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { SPINE_ERROR_SYSTEM } from '../src/fhir/errors.js';
import {
  APIM_ERROR_SYSTEM,
  ERS_ERROR_SYSTEM,
  HTTP_ERROR_SYSTEM,
} from '../src/services/referrals/index.js';
import type { RouteAccessEntry } from '../src/security/access-control.js';
import {
  ACTIVITIES,
  PATIENT_ROLE,
  ROLES,
  roleAllows,
  type Activity,
} from '../src/security/policy.js';
import type { WriteBatch } from '../src/store/resource-store.js';
import { PATIENT, RELATED_PERSON } from '../src/services/pds/patient-model.js';
import { SCR_CONSENT_STATE_TYPE, SCR_PERMISSION_TYPE } from '../src/services/scr/consent-store.js';
import { SCR_DOCUMENT_TYPE, SCR_POINTER_TYPE } from '../src/services/scr/document-model.js';
import { CONSENT } from '../src/services/scr/consent-resource.js';
import { PRESCRIBER_KEY } from '../src/services/eps/prescriber-keys.js';
import { PRESCRIPTION, PRESCRIPTION_ORDER } from '../src/services/eps/prescription-model.js';
import { TASK } from '../src/services/gp2gp/transfer-model.js';
import { WEB_BASE } from '../src/services/web/index.js';
import { CHUNK, EHR } from '../src/services/gp2gp/chunk-store.js';
import { SUBSCRIPTION } from '../src/services/notifications/subscription-model.js';
import { MAILBOX, MAILBOX_ENTRY } from '../src/services/notifications/mailbox.js';
import { DISPATCH } from '../src/services/notifications/router.js';
import { ENDPOINT } from '../src/services/directory/endpoint-model.js';
import { ORGANIZATION } from '../src/services/directory/organization-model.js';
import { PRACTITIONER_ROLE } from '../src/services/directory/practitioner-role-model.js';
import { HEALTHCARE_SERVICE } from '../src/services/directory/healthcare-service-model.js';
import {
  ALLERGY,
  MEDICATION_REQUEST,
  MEDICATION_STATEMENT,
} from '../src/services/migration/legacy-fhir.js';
import { EMERGENCY_ACCESS_TYPE, RELATIONSHIP_TYPE } from '../src/security/relationships.js';
import { CLIENT_TYPE } from '../src/security/accounts/clients.js';
import { REVOCATION_TYPE } from '../src/security/accounts/revocations.js';
import {
  AUTH_CODE_TYPE,
  CLIENT_ASSERTION_TYPE,
  SESSION_TYPE,
} from '../src/security/accounts/sessions.js';
import { USER_TYPE } from '../src/security/accounts/users.js';
import { EXPORT_CHUNK, EXPORT_JOB } from '../src/services/bulk/export-job.js';
import { startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';
import {
  commitPatients,
  currentJane,
  fixture,
  mergeBody,
  NHS,
  patchFixture,
  repoRoot,
  withNhsNumber,
} from './helpers/pds-fixtures.js';

const SEED = Number(process.env.OPENSPINE_FUZZ_SEED ?? 20_240_611) >>> 0;
const CASES_PER_ROUTE = Number(process.env.OPENSPINE_FUZZ_CASES ?? 24);
const HEAD_CASES = 3;
const SPARE = ['9000000041', '9000000068'];
/** Jane's registered practice: tokens from it have a legitimate relationship with her. */
const PRACTICE = 'Y12345';

/**
 * Every resource type an HTTP request can write (the snapshot counts them all; the commit tap below
 * sees writes of any type, listed here or not).
 */
const TYPES = [
  PATIENT,
  RELATED_PERSON,
  SCR_CONSENT_STATE_TYPE,
  SCR_PERMISSION_TYPE,
  SCR_DOCUMENT_TYPE,
  SCR_POINTER_TYPE,
  CONSENT,
  PRESCRIBER_KEY,
  PRESCRIPTION,
  PRESCRIPTION_ORDER,
  TASK,
  CHUNK,
  EHR,
  SUBSCRIPTION,
  MAILBOX,
  MAILBOX_ENTRY,
  DISPATCH,
  ENDPOINT,
  ORGANIZATION,
  PRACTITIONER_ROLE,
  HEALTHCARE_SERVICE,
  RELATIONSHIP_TYPE,
  EMERGENCY_ACCESS_TYPE,
  EXPORT_JOB,
  EXPORT_CHUNK,
  ALLERGY,
  MEDICATION_STATEMENT,
  MEDICATION_REQUEST,
  CLIENT_TYPE,
  REVOCATION_TYPE,
  SESSION_TYPE,
  AUTH_CODE_TYPE,
  CLIENT_ASSERTION_TYPE,
  USER_TYPE,
  'SignInTransaction',
];

/** mulberry32: a small seeded PRNG, so a run can be repeated exactly. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return {
    next,
    int,
    pick: <T>(items: readonly T[]): T => items[int(items.length)],
    chance: (p: number) => next() < p,
    uuid: () => {
      const h = Array.from({ length: 32 }, () => int(16).toString(16)).join('');
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20)}`;
    },
  };
}
type Rng = ReturnType<typeof prng>;

interface Case {
  label: string;
  route: RouteAccessEntry;
  method: string;
  url: string;
  headers: Record<string, string | string[]>;
  payload?: string | Buffer;
  /** False when the path was broken on purpose: no route can answer it. */
  routed: boolean;
  /** The valid X-Request-ID the case was given (a header mutation may have replaced it). */
  generatedId: string;
}

// ---------------------------------------------------------------- plausible bodies, per route

const json = (path: string) => JSON.parse(readFileSync(resolve(repoRoot, path), 'utf8'));
const nhsId = (value: string) => ({ system: 'https://fhir.nhs.uk/Id/nhs-number', value });
const parameters = (entries: Record<string, string>) => ({
  resourceType: 'Parameters',
  parameter: Object.entries(entries).map(([name, value]) =>
    name === 'patient' ? { name, valueIdentifier: nhsId(value) } : { name, valueString: value },
  ),
});

/** A body the route would plausibly accept (the starting point of the mutations), by route URL. */
function sampleBody(route: RouteAccessEntry): { body: unknown; contentType: string } {
  const u = route.url;
  const fhir = (body: unknown) => ({ body, contentType: 'application/fhir+json' });
  if (u.endsWith('/Patient/:nhsNumber'))
    return { body: patchFixture('add-name'), contentType: 'application/json-patch+json' };
  if (u.endsWith('/Patient/$merge')) return fhir(mergeBody(SPARE[1], SPARE[0]));
  if (u.endsWith('/Patient')) return fhir(fixture('requests/PatientCreate/create-patient.json'));
  if (u.startsWith('/summary-care-record') && u.endsWith('/Bundle'))
    return fhir(json('test/fixtures/scr/gp-summary.Bundle.json'));
  if (u.endsWith('/Consent')) {
    return fhir({
      resourceType: 'Consent',
      status: 'active',
      scope: {
        coding: [
          { system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' },
        ],
      },
      patient: { identifier: nhsId(NHS.jane) },
      policyRule: {
        coding: [
          { system: 'https://openspine.dev/CodeSystem/scr-consent-choice', code: 'scr-additional' },
        ],
      },
    });
  }
  if (u.endsWith('/$setPermission'))
    return fhir(
      JSON.parse(
        readFileSync(
          resolve(repoRoot, 'test/fixtures/scr/set-permission.Parameters.json'),
          'utf8',
        ).replaceAll('9995000180', NHS.jane),
      ),
    );
  if (u.endsWith('/$set-opt-out'))
    return fhir({
      resourceType: 'Parameters',
      parameter: [
        { name: 'patient', valueIdentifier: nhsId(NHS.jane) },
        { name: 'optOut', valueBoolean: true },
      ],
    });
  if (u.endsWith('/$emergency-access'))
    return fhir(
      parameters({ patient: NHS.jane, reasonCode: 'life-threatening', reasonText: 'Collapsed' }),
    );
  if (u.endsWith('/$claim-relationship'))
    return fhir(parameters({ patient: NHS.jane, reason: 'Seeing the patient now' }));
  if (u.endsWith('/EpisodeOfCare'))
    return fhir({
      resourceType: 'EpisodeOfCare',
      status: 'active',
      patient: { identifier: { value: NHS.jane } },
    });
  if (
    u.endsWith('/$prepare') ||
    (u.endsWith('/$process-message') && !u.includes('MedicationDispense'))
  )
    return fhir(json('test/fixtures/eps/prescription-order.Bundle.json'));
  if (u.includes('MedicationDispense') || u.endsWith('/Claim'))
    return fhir(json('test/fixtures/eps/dispense-notification.Bundle.json'));
  if (u.endsWith('/Task/$release'))
    return fhir(json('test/fixtures/eps/release-request-nominated-pharmacy.Parameters.json'));
  if (u.startsWith('/gp2gp') && u.endsWith('/Task')) {
    return fhir({
      resourceType: 'Task',
      status: 'requested',
      intent: 'order',
      for: { identifier: nhsId(NHS.jane) },
      owner: {
        identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'A81001' },
      },
    });
  }
  if (u.endsWith('/Subscription')) {
    return fhir({
      resourceType: 'Subscription',
      status: 'requested',
      reason: 'Keep the practice record in step',
      criteria: `/Bundle?type=message&serviceType=GP&MessageHeader.event=pds-death-notification-1&Patient.identifier=https://fhir.nhs.uk/Id/nhs-number|${NHS.jane}`,
      channel: {
        type: 'rest-hook',
        endpoint: 'https://hooks.example.nhs.uk/events',
        payload: 'application/fhir+json',
      },
    });
  }
  if (u.endsWith('/$import'))
    return {
      body: JSON.stringify(withNhsNumber(currentJane(), SPARE[0])),
      contentType: 'application/fhir+ndjson',
    };
  if (u.startsWith('/app'))
    return {
      body: '_csrf=not-a-token&nhsNumber=9000000009&reason=fuzz',
      contentType: 'application/x-www-form-urlencoded',
    };
  if (u.startsWith('/oauth2'))
    return {
      body: 'grant_type=client_credentials&client_id=fuzz-app&client_secret=x&token=abc&step=login&tx=x',
      contentType: 'application/x-www-form-urlencoded',
    };
  if (u.startsWith('/spine-directory')) {
    return fhir({
      resourceType: u.split('/')[4] ?? 'Endpoint',
      active: true,
      identifier: [{ system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'A81001' }],
      name: 'Fuzz',
    });
  }
  return fhir({
    resourceType: 'Parameters',
    parameter: [
      { name: 'patient', valueIdentifier: nhsId(NHS.jane) },
      { name: 'outcome', valueCode: 'accepted' },
    ],
  });
}

// ---------------------------------------------------------------- mutations

const BAD_PARAMS = [
  '%E0%A4%A',
  '%',
  '%zz',
  'x'.repeat(101),
  '9'.repeat(4000),
  '%00',
  '..%2F..%2Fetc%2Fpasswd',
  '%27%20OR%201%3D1',
  '%F0%9F%92%A9',
  '-1',
  '1e309',
  '%C0%AF',
  '%2F',
  '%20',
  '%25',
  '9000000009%20',
  'null',
  '__proto__',
  'constructor',
  '%EF%BF%BE',
  '*',
];
const BAD_QUERIES = [
  'a=%E0%A4%A',
  'patient=%E0%A4%A',
  '%=%',
  `patient=${NHS.jane}&patient=9000000010`,
  '_count=-1',
  '_count=1e309',
  '_count=99999999999999999999',
  'a[b]=1&__proto__[x]=1&constructor[prototype][y]=2',
  '&&&=&=',
  `x=${'y'.repeat(8000)}`,
  '%00=1',
  'family=Smith%00',
  'family=Smith;birthdate=x',
  '_format=xml',
  `identifier=${encodeURIComponent('https://fhir.nhs.uk/Id/nhs-number|9000000009|x')}`,
  'patient.identifier=%7C',
  `_cursor=${'A'.repeat(500)}`,
  '_since=not-a-date',
  '_type=Patient,Patient,Nope',
  'date=ge2020-02-30',
  'status=%F0%9F%92%A9',
  `${'p'.repeat(200)}=1`,
  'a=1&a=2&a=3',
];
const TYPE_SWAPS: unknown[] = [null, 7, 'x', [], {}, true, -0, 1e308, 'ünïcødé', '\u202e'];
const DEEP = [65, 2000, 20000];

const deepValue = (depth: number, object: boolean) =>
  object ? '{"a":'.repeat(depth) + '1' + '}'.repeat(depth) : '['.repeat(depth) + ']'.repeat(depth);

/** Every path to a value inside a JSON document. */
function paths(value: unknown, at: (string | number)[] = []): (string | number)[][] {
  if (!value || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => {
    const key = Array.isArray(value) ? Number(k) : k;
    return [[...at, key], ...paths(v, [...at, key])];
  });
}

/** The sample as text with the value at a random path replaced by raw JSON text. */
function replaceRaw(rng: Rng, sample: unknown, raw: string): string {
  const all = paths(sample);
  if (all.length === 0 || typeof sample !== 'object') return raw;
  const marker = `"@@FUZZ${rng.int(1e9)}@@"`;
  const copy = structuredClone(sample) as any;
  const path = rng.pick(all);
  let node = copy;
  for (const key of path.slice(0, -1)) node = node[key];
  node[path[path.length - 1]] = JSON.parse(marker);
  return JSON.stringify(copy).replace(marker, raw);
}

/** The sample as text with a key holding raw JSON text added to a random object inside it. */
function addRaw(rng: Rng, sample: unknown, key: string, raw: string): string {
  const objects = [[], ...paths(sample)].filter((path) => {
    let node = sample as any;
    for (const k of path) node = node[k];
    return node && typeof node === 'object' && !Array.isArray(node);
  });
  if (objects.length === 0) return raw;
  const marker = `"@@FUZZ${rng.int(1e9)}@@"`;
  const copy = structuredClone(sample) as any;
  let node = copy;
  for (const k of rng.pick(objects)) node = node[k];
  node[key] = JSON.parse(marker);
  return JSON.stringify(copy).replace(marker, raw);
}

type BodyMutation = (
  rng: Rng,
  sample: unknown,
  sampleType: string,
) => { label: string; payload?: string | Buffer; contentType?: string };

const BODY_MUTATIONS: BodyMutation[] = [
  (rng, s, t) => {
    const text = typeof s === 'string' ? s : JSON.stringify(s);
    const cut = rng.int(Math.max(1, text.length - 1));
    return { label: `truncated at ${cut}`, payload: text.slice(0, cut), contentType: t };
  },
  (rng, _s, t) => {
    const v = rng.pick(TYPE_SWAPS);
    return { label: `top-level ${JSON.stringify(v)}`, payload: JSON.stringify(v), contentType: t };
  },
  (rng, s, t) => {
    const v = rng.pick(TYPE_SWAPS);
    return {
      label: `a field replaced by ${JSON.stringify(v)}`,
      payload: replaceRaw(rng, s, JSON.stringify(v)),
      contentType: t,
    };
  },
  (rng, s, t) => {
    const d = rng.pick(DEEP);
    const o = rng.chance(0.5);
    return {
      label: `a field nested ${d} deep (${o ? 'objects' : 'arrays'})`,
      payload: replaceRaw(rng, s, deepValue(d, o)),
      contentType: t,
    };
  },
  (rng, _s, t) => {
    const d = rng.pick(DEEP);
    return {
      label: `body nested ${d} deep`,
      payload: deepValue(d, rng.chance(0.5)),
      contentType: t,
    };
  },
  (rng, s, t) => {
    const n = rng.pick([150_000, 20_000]);
    return {
      label: `a field replaced by ${n} zeros`,
      payload: replaceRaw(rng, s, `[${Array(n).fill(0).join(',')}]`),
      contentType: t,
    };
  },
  (rng, s, t) => ({
    label: 'a field replaced by 5000 objects',
    payload: replaceRaw(
      rng,
      s,
      JSON.stringify(
        Array.from({ length: 5000 }, (_, i) => ({ use: 'usual', family: `F${i}`, given: ['G'] })),
      ),
    ),
    contentType: t,
  }),
  (rng, s, t) => ({
    label: 'escaped NUL in a string',
    payload: replaceRaw(rng, s, '"evil\\u0000"'),
    contentType: t,
  }),
  (rng, s, t) => ({
    label: 'raw NUL byte in a string',
    payload: replaceRaw(rng, s, '"evil\u0000"'),
    contentType: t,
  }),
  (rng, s, t) => {
    const text = replaceRaw(rng, s, '"@@BYTES@@"');
    const [a, b] = text.split('@@BYTES@@');
    const bytes = rng.pick([
      [0xff, 0xfe],
      [0xc0, 0xaf],
      [0xed, 0xa0, 0x80],
      [0xc3, 0x28],
      [0xf8, 0x88, 0x80, 0x80, 0x80],
    ]);
    return {
      label: `invalid UTF-8 ${bytes.map((x) => x.toString(16)).join(' ')}`,
      payload: Buffer.concat([Buffer.from(a), Buffer.from(bytes), Buffer.from(b ?? '')]),
      contentType: t,
    };
  },
  (rng, s) => {
    const ct = rng.pick([
      'text/plain',
      'application/xml',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=zz',
      'application/fhir+json; charset=utf-16',
      'application/octet-stream',
      'application/ndjson',
      ';;',
      '/',
      'application/json-patch+json',
      'APPLICATION/FHIR+JSON',
      'application/fhir+json; charset',
      'application/*',
      '*/*',
      'text/html; charset=utf-8',
    ]);
    return {
      label: `content type ${ct}`,
      payload: typeof s === 'string' ? s : JSON.stringify(s),
      contentType: ct,
    };
  },
  (rng) => ({
    label: 'form body',
    payload: rng.pick([
      'a=1&a=2',
      '%E0%A4%A=1&b=%',
      'grant_type=client_credentials&grant_type=refresh_token',
      'b[c][d]=1&__proto__[x]=1',
      '=&=&=',
      'x='.repeat(5000),
    ]),
    contentType: 'application/x-www-form-urlencoded',
  }),
  (_rng, _s, t) => ({ label: 'empty body', payload: '', contentType: t }),
  (_rng, s) => ({
    label: 'body without a content type',
    payload: typeof s === 'string' ? s : JSON.stringify(s),
  }),
  (rng, s, t) => ({
    label: 'prototype keys',
    payload: replaceRaw(
      rng,
      s,
      rng.pick([
        '{"__proto__":{"admin":true}}',
        '{"constructor":{"prototype":{"x":1}}}',
        '{"\\u005f_proto__":{"y":1}}',
      ]),
    ),
    contentType: t,
  }),
  (rng, s, t) => ({
    label: 'numbers out of range',
    payload: replaceRaw(
      rng,
      s,
      rng.pick(['1e309', '-1e309', '1e-400', '123456789012345678901234567890', '-0']),
    ),
    contentType: t,
  }),
  (rng, s, t) => ({
    label: 'lone surrogate',
    payload: replaceRaw(rng, s, '"\\ud800x"'),
    contentType: t,
  }),
  (rng, s, t) => ({
    label: 'long string',
    payload: replaceRaw(rng, s, JSON.stringify('x'.repeat(rng.pick([70_000, 600_000])))),
    contentType: t,
  }),
  (_rng, _s, t) => ({
    label: 'over the body limit',
    payload: `{"resourceType":"Parameters","pad":"${'x'.repeat(1_100_000)}"}`,
    contentType: t,
  }),
  (_rng, s, t) => ({
    label: 'duplicate keys and a BOM',
    payload:
      '\ufeff' +
      (typeof s === 'string' ? s : JSON.stringify(s)).replace(/^\{/, '{"resourceType":"Bundle",'),
    contentType: t,
  }),
  (_rng, s, t) => ({
    label: 'trailing garbage',
    payload: (typeof s === 'string' ? s : JSON.stringify(s)) + ' // comment }]',
    contentType: t,
  }),
  (_rng, s, t) => ({
    label: 'unchanged',
    payload: typeof s === 'string' ? s : JSON.stringify(s),
    contentType: t,
  }),
];

type HeaderMutation = (rng: Rng, headers: Record<string, string | string[]>) => string;
const HEADER_MUTATIONS: HeaderMutation[] = [
  (rng, h) => {
    const v = rng.pick([
      undefined,
      '',
      'not-a-uuid',
      '00000000-0000-0000-0000-00000000000g',
      `${rng.uuid()} `,
      'x'.repeat(300),
      '%00',
      '{}',
    ]);
    if (v === undefined) delete h['x-request-id'];
    else h['x-request-id'] = v;
    return `X-Request-ID ${JSON.stringify(v)?.slice(0, 20)}`;
  },
  (rng, h) => {
    h['x-request-id'] = [rng.uuid(), rng.uuid()];
    return 'two X-Request-IDs';
  },
  (rng, h) => {
    const v = rng.pick([
      'W/"x"',
      '*',
      '',
      'W/"1", W/"2"',
      'W/"-1"',
      'W/"99999999999999999999999"',
      '"1"',
      'W/1',
      'W/"1',
    ]);
    h['if-match'] = v;
    return `If-Match ${v}`;
  },
  (rng, h) => {
    const v = rng.pick([
      undefined,
      'Bearer',
      'Bearer ',
      'Bearer a.b.c',
      'Basic Zm9vOmJhcg==',
      `Bearer ${'a'.repeat(9000)}`,
      `bearer ${String(h.authorization).slice(7)}`,
      'Bearer eyJhbGciOiJub25lIn0.e30.',
      'Negotiate x',
    ]);
    if (v === undefined) delete h.authorization;
    else h.authorization = v;
    return `Authorization ${v === undefined ? 'absent' : v.slice(0, 24)}`;
  },
  (_rng, h) => {
    h.authorization = [String(h.authorization), 'Bearer x'];
    return 'two Authorization headers';
  },
  (rng, h) => {
    const v = rng.pick([
      'application/xml',
      'text/html',
      '*/*;q=abc',
      '',
      'application/fhir+json;q=0',
      'x'.repeat(5000),
    ]);
    h.accept = v;
    return `Accept ${v.slice(0, 20)}`;
  },
  (rng, h) => {
    h['x-correlation-id'] = rng.pick(['x'.repeat(5000), '', '%00']);
    return 'odd X-Correlation-ID';
  },
];

// ---------------------------------------------------------------- the cases

interface Tokens {
  forActivity(activity: string | null): string;
}

function buildCases(
  rng: Rng,
  routes: RouteAccessEntry[],
  tokens: Tokens,
  perRoute: number,
): Case[] {
  const cases: Case[] = [];
  for (const route of routes) {
    const n = route.method === 'HEAD' ? HEAD_CASES : perRoute;
    const { body: sample, contentType: sampleType } = sampleBody(route);
    const bodyMethod = ['POST', 'PUT', 'PATCH', 'DELETE'].includes(route.method);
    cases.push(...coreCases(rng, route, tokens));
    for (let i = 0; i < n; i++) {
      const labels: string[] = [];
      let routed = true;
      // path parameters: plausible, with now and then a hostile one
      let path = route.url.replace(/:([A-Za-z]+)/g, (_m, name: string) => {
        if (rng.chance(0.25)) {
          const v = rng.pick(BAD_PARAMS);
          labels.push(`:${name}=${v.slice(0, 16)}`);
          return v;
        }
        if (name === 'nhsNumber')
          return rng.pick([NHS.jane, NHS.jane, NHS.restricted, NHS.notFound, NHS.invalid]);
        if (name === 'odsCode') return rng.pick(['A81001', PRACTICE, 'a81001']);
        if (name === 'file') return rng.pick(['Patient.ndjson', 'x.ndjson']);
        if (name === 'chunkIndex') return rng.pick(['0', '1', '-1']);
        return rng.pick([rng.uuid(), NHS.jane, 'A81001']);
      });
      // the path itself broken: no route can answer (the answer must still be an OperationOutcome)
      if (rng.chance(0.06)) {
        const broken = rng.pick([
          `${path}%E0%A4%A`,
          `${path}/${'x'.repeat(3000)}`,
          path.replace(/\/([^/]+)$/, '/%$1'),
          `${path}/%`,
        ]);
        labels.push(`path ${broken.slice(path.length - 4, path.length + 12)}`);
        path = broken;
        routed = false;
      }
      const query = new URLSearchParams();
      if (route.patientQuery) query.set(route.patientQuery, NHS.jane);
      if (route.patientScoped || rng.chance(0.3)) query.set('patient', NHS.jane);
      let qs = query.toString();
      if (rng.chance(0.3)) {
        const q = rng.pick(BAD_QUERIES);
        labels.push(`?${q.slice(0, 24)}`);
        qs = qs ? `${qs}&${q}` : q;
      }
      const url = qs ? `${path}?${qs}` : path;

      const generatedId = rng.uuid();
      const headers: Record<string, string | string[]> = {
        'x-request-id': generatedId,
        authorization: `Bearer ${tokens.forActivity(route.activity)}`,
        accept: 'application/fhir+json',
      };
      if (
        route.url.endsWith('/Patient/:nhsNumber') ||
        (route.url.endsWith('/:id') && route.method === 'PUT')
      )
        headers['if-match'] = 'W/"1"';
      let payload: string | Buffer | undefined;
      const mutateHeaders = rng.chance(bodyMethod ? 0.3 : 0.6);
      if (mutateHeaders) labels.push(rng.pick(HEADER_MUTATIONS)(rng, headers));
      if (bodyMethod || rng.chance(0.1)) {
        const m = rng.pick(mutateHeaders ? BODY_MUTATIONS.slice(-1) : BODY_MUTATIONS)(
          rng,
          sample,
          sampleType,
        );
        labels.push(m.label);
        payload = m.payload;
        if (m.contentType !== undefined) headers['content-type'] = m.contentType;
      }
      // a method no route registers: the not-found handler answers, an OperationOutcome wherever it was aimed
      let method = route.method;
      if (rng.chance(0.04)) {
        method = rng.pick(['OPTIONS', 'PROPFIND', 'TRACE', 'LOCK', 'PURGE']);
        labels.push(`method ${method}`);
        routed = false;
      }
      cases.push({
        label: labels.join(', ') || 'plausible',
        route,
        method,
        url,
        headers,
        payload,
        routed,
        generatedId,
      });
    }
  }
  return cases;
}

/**
 * Cases every route gets whatever the seed: a deep value in the plausible body (replacing a value,
 * and as an added key), a body that is not JSON, a path id with bad percent-encoding and one over
 * the router's parameter length.
 */
function coreCases(rng: Rng, route: RouteAccessEntry, tokens: Tokens): Case[] {
  const { body: sample, contentType } = sampleBody(route);
  const plain = route.url.replace(/:nhsNumber/g, NHS.jane).replace(/:[A-Za-z]+/g, '0');
  const query = route.patientQuery ? `?${route.patientQuery}=${NHS.jane}` : '';
  const make = (
    label: string,
    url: string,
    extra: { payload?: string; contentType?: string } = {},
  ): Case => {
    const generatedId = rng.uuid();
    const headers: Record<string, string> = {
      'x-request-id': generatedId,
      authorization: `Bearer ${tokens.forActivity(route.activity)}`,
      'if-match': 'W/"1"',
    };
    if (extra.contentType) headers['content-type'] = extra.contentType;
    return {
      label: `core: ${label}`,
      route,
      method: route.method,
      url,
      headers,
      payload: extra.payload,
      routed: true,
      generatedId,
    };
  };
  const core: Case[] = [];
  if (['POST', 'PUT', 'PATCH'].includes(route.method)) {
    const json = route.url.startsWith('/oauth2')
      ? 'application/json'
      : contentType.includes('json')
        ? contentType
        : 'application/fhir+json';
    core.push(
      make('a value nested 2000 deep', plain + query, {
        payload: replaceRaw(rng, sample, deepValue(2000, false)),
        contentType: json,
      }),
      make('a value nested 20000 deep', plain + query, {
        payload: replaceRaw(rng, sample, deepValue(20000, false)),
        contentType: json,
      }),
      make('a key nested 20000 deep', plain + query, {
        payload: addRaw(rng, sample, 'extension', deepValue(20000, true)),
        contentType: json,
      }),
      make('a body that is not JSON', plain + query, {
        payload: '{"resourceType": ',
        contentType: json,
      }),
    );
  }
  if (route.url.includes('/:')) {
    const [first] = route.url.match(/:[A-Za-z]+/)!;
    core.push(
      make(
        'a path id with bad percent-encoding',
        route.url
          .replace(first, '%E0%A4%A')
          .replace(/:nhsNumber/g, NHS.jane)
          .replace(/:[A-Za-z]+/g, '0') + query,
      ),
      make(
        'a path id over the parameter length',
        route.url
          .replace(first, '9'.repeat(101))
          .replace(/:nhsNumber/g, NHS.jane)
          .replace(/:[A-Za-z]+/g, '0') + query,
      ),
    );
  }
  return core;
}

// ---------------------------------------------------------------- what an answer must look like

const OAUTH_ERRORS = new Set([
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'invalid_token',
]);
const HTML_PAGES = ['/oauth2/authorize', '/oauth2/dev-callback'];
/** Every route of the e-Referral Service (its STU3 and R4 APIs, patient and management routes). */
const ERS_ROUTES = '/referrals/';
/** The error code systems e-RS publishes: STU3's eRS-APIErrorCode-1, and R4's two. */
const ERS_ERROR_SYSTEMS = new Set([ERS_ERROR_SYSTEM, HTTP_ERROR_SYSTEM, APIM_ERROR_SYSTEM]);

/** Why the answer is not acceptable, or null. */
function problemWith(c: Case, res: LightMyRequestResponse): string | null {
  if (res.statusCode >= 500) return `answered ${res.statusCode}: ${res.body.slice(0, 160)}`;
  if (/\bat .+\.(ts|js):\d+|node_modules|FST_ERR/.test(res.body))
    return `internals in the answer: ${res.body.slice(0, 160)}`;
  if (res.statusCode < 400) return null;
  const type = String(res.headers['content-type'] ?? '');
  const head = c.method === 'HEAD';
  // the web application's pages (and its not-found page under /app) answer every refusal with an
  // HTML page a person can read
  const path = c.url.split('?')[0];
  // (a URL the router cannot decode is refused before any page, as on every other path)
  if ((path === WEB_BASE || path.startsWith(`${WEB_BASE}/`)) && /^text\/html/.test(type))
    return null;
  if (c.routed && c.route.url.startsWith('/oauth2')) {
    if (HTML_PAGES.includes(c.route.url))
      return /^text\/html/.test(type) ? null : `a sign-in page answered ${type}`;
    if (!/^application\/json/.test(type))
      return `an OAuth endpoint answered ${type}: ${res.body.slice(0, 120)}`;
    if (head) return null;
    const body = safeJson(res.body);
    return body && OAUTH_ERRORS.has(body.error)
      ? null
      : `not an RFC 6749 error: ${res.body.slice(0, 160)}`;
  }
  if (!/^application\/fhir\+json/.test(type))
    return `answered ${type || 'no content type'}: ${res.body.slice(0, 160)}`;
  if (head) return null;
  const body = safeJson(res.body);
  const coding = body?.issue?.[0]?.details?.coding?.[0];
  // the e-Referral Service answers its own refusals with eRS's published error codes, on its
  // published API and on OpenSpine's own e-RS routes (patient access, slot publishing) alike
  // (by the request's path: a mutated path such as /Binary/%30... still reaches an e-RS route)
  const ers = path.startsWith(ERS_ROUTES) && ERS_ERROR_SYSTEMS.has(coding?.system);
  if (
    body?.resourceType !== 'OperationOutcome' ||
    (coding?.system !== SPINE_ERROR_SYSTEM && !ers) ||
    !/^[A-Z_]+$/.test(coding?.code ?? '')
  ) {
    return `not an OperationOutcome with a Spine code: ${res.body.slice(0, 160)}`;
  }
  return null;
}

function safeJson(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------- the run

/** Refusals of the request's form, decided before any stored state is consulted: these are sent again as one batch. */
const FORM_REFUSALS = new Set([400, 401, 406, 413, 414, 415]);

/**
 * A commit that changes state (resources, outbox messages or a request-log record; audit entries
 * alone do not), with the request ids it names.
 */
interface StateWrite {
  what: string;
  requestIds: Set<string>;
}

function stateWriteOf(batch: WriteBatch): StateWrite | null {
  if (!batch.resources?.length && !batch.messages?.length && !batch.request) return null;
  const what = [
    ...(batch.resources ?? []).map((r) => `${r.type}/${r.id}`),
    ...(batch.messages ?? []).map((m) => `message ${m.topic}`),
    ...(batch.request ? ['request record'] : []),
  ].join(', ');
  return {
    what,
    requestIds: new Set([
      ...(batch.audit ?? []).map((a) => a.requestId),
      ...(batch.request ? [batch.request.requestId] : []),
    ]),
  };
}

/** Records every state-changing commit of the platform's store until stopped. */
function tapCommits(repo: TestPlatform['repo']): { writes: StateWrite[]; stop(): void } {
  const writes: StateWrite[] = [];
  const original = repo.commit;
  const commit = original.bind(repo);
  repo.commit = (batch: WriteBatch) => {
    const write = stateWriteOf(batch);
    if (write) writes.push(write);
    return commit(batch);
  };
  return {
    writes,
    stop: () => {
      repo.commit = original;
    },
  };
}

for (const kind of await storesUnderTest()) {
  const perRoute = CASES_PER_ROUTE;
  describe(`route fuzzing (${kind}, seed ${SEED})`, () => {
    let platform: TestPlatform;
    let cases: Case[] = [];
    const answers: { c: Case; status: number; requestId: string | null }[] = [];
    let writesDuringRun: StateWrite[] = [];

    before(async () => {
      console.log(
        `# fuzz seed ${SEED} (OPENSPINE_FUZZ_SEED=${SEED} repeats this run), ${perRoute} cases per route, ${kind}`,
      );
      platform = await startTestPlatform(kind, {
        config: { rateLimit: { userPerMinute: 0, applicationPerMinute: 0 } },
      });
      await commitPatients(platform.repo, [
        currentJane(),
        ...SPARE.map((n) => withNhsNumber(currentJane(), n)),
      ]);
      const byRole = new Map<string, string>();
      for (const role of Object.keys(ROLES)) {
        if (role !== PATIENT_ROLE)
          byRole.set(role, await platform.token(role, { user: `fuzz-${role}`, org: PRACTICE }));
      }
      const tokens: Tokens = {
        forActivity(activity) {
          const role = activity
            ? Object.keys(ROLES).find(
                (r) => r !== PATIENT_ROLE && roleAllows(r, activity as Activity),
              )
            : 'R8000';
          return byRole.get(role ?? 'R8000')!;
        },
      };
      const routes = platform.app.routeTable;
      assert.ok(
        routes.length > 50,
        `the route table lists the platform's routes (${routes.length})`,
      );
      for (const r of routes) if (r.activity) assert.ok(Object.hasOwn(ACTIVITIES, r.activity));
      cases = buildCases(prng(SEED), routes, tokens, perRoute);
    });
    after(() => platform?.close());

    function send(c: Case, headers = c.headers): Promise<LightMyRequestResponse> {
      return platform.app.inject({
        method: c.method as 'GET',
        url: c.url,
        headers,
        payload: c.payload,
      });
    }

    it('no route answers a hostile request with a 5xx or an error body outside the conventions', async () => {
      const started = Date.now();
      const failures: string[] = [];
      const statuses = new Map<number, number>();
      const tap = tapCommits(platform.repo);
      try {
        for (const c of cases) {
          const res = await send(c);
          statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
          const problem = problemWith(c, res);
          if (problem) failures.push(`${c.method} ${c.url.slice(0, 120)} [${c.label}]: ${problem}`);
          answers.push({
            c,
            status: res.statusCode,
            requestId: c.headers['x-request-id'] === c.generatedId ? c.generatedId : null,
          });
        }
      } finally {
        tap.stop();
      }
      writesDuringRun = tap.writes;
      const refused = answers.filter((a) => a.status >= 400).length;
      const covered = new Set(cases.map((c) => `${c.route.method} ${c.route.url}`));
      console.log(
        `# ${cases.length} requests over ${covered.size} routes in ${Date.now() - started} ms, ${refused} refused; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`,
      );
      assert.deepEqual(
        platform.app.routeTable.filter((r) => !covered.has(`${r.method} ${r.url}`)),
        [],
        'every route of the platform was fuzzed',
      );
      assert.ok(refused > cases.length / 2, 'most hostile requests are refused');
      if (failures.length)
        assert.fail(
          `${failures.length} of ${cases.length} answers break the rules (seed ${SEED}):\n${failures.slice(0, 40).join('\n')}`,
        );
    });

    it('no refused request committed anything but audit entries', () => {
      // every write a service makes carries the request id in its audit entries or its request record
      // the tap works: the requests that were accepted wrote, and their writes name them
      const acceptedIds = new Set(
        answers.filter((a) => a.status < 400 && a.requestId).map((a) => a.requestId!),
      );
      assert.ok(
        writesDuringRun.some((w) => [...w.requestIds].some((id) => acceptedIds.has(id))),
        'the accepted writes were seen',
      );
      const refusedIds = new Map(
        answers.filter((a) => a.status >= 400 && a.requestId).map((a) => [a.requestId!, a]),
      );
      const culprits = writesDuringRun.flatMap((w) =>
        [...w.requestIds]
          .filter((id) => refusedIds.has(id))
          .map((id) => {
            const { c, status } = refusedIds.get(id)!;
            return `${c.method} ${c.url.slice(0, 100)} [${c.label}] answered ${status} but wrote ${w.what.slice(0, 200)}`;
          }),
      );
      assert.deepEqual(culprits, []);
    });

    it('the requests refused for their form, sent again as one batch, change nothing but the audit trail', async () => {
      const { repo } = platform;
      const batch = answers.filter((a) => FORM_REFUSALS.has(a.status)).map((a) => a.c);
      assert.ok(batch.length > cases.length / 3, `a substantial batch (${batch.length})`);
      // let what the accepted requests started (export jobs, notification deliveries) finish first
      let before = await snapshotOf(repo);
      for (let i = 0; i < 50; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const again = await snapshotOf(repo);
        if (again === before) break;
        before = again;
      }
      const idRng = prng(SEED ^ 0x5eed);
      const ids: string[] = [];
      const acceptedNow: string[] = [];
      const tap = tapCommits(repo);
      try {
        for (const c of batch) {
          // a fresh X-Request-ID where the case had a valid one, so nothing is answered from the request log
          const headers =
            c.headers['x-request-id'] === c.generatedId
              ? { ...c.headers, 'x-request-id': idRng.uuid() }
              : c.headers;
          if (headers !== c.headers) ids.push(headers['x-request-id'] as string);
          const res = await send(c, headers);
          if (res.statusCode < 400)
            acceptedNow.push(`${c.method} ${c.url.slice(0, 100)} [${c.label}]: ${res.statusCode}`);
        }
        await new Promise((r) => setTimeout(r, 200));
      } finally {
        tap.stop();
      }
      assert.deepEqual(acceptedNow, [], 'a request refused for its form is refused again');
      assert.deepEqual(
        tap.writes.map((w) => w.what),
        [],
        'no resource, message or request record was committed while the batch ran',
      );
      assert.equal(
        await snapshotOf(repo),
        before,
        'resource counts, the seeded records and the outbox are as they were',
      );
      const recorded: string[] = [];
      for (const id of ids) if (await repo.readRequest(id)) recorded.push(id);
      assert.deepEqual(recorded, [], 'no refused X-Request-ID is in the request log');
    });
  });
}

/** Counts of every resource type, the versions of the seeded patients, and the outbox: as one string. */
async function snapshotOf(repo: TestPlatform['repo']): Promise<string> {
  const counts = await Promise.all(TYPES.map(async (t) => `${t}=${await repo.count(t)}`));
  const seeded = (await repo.readMany(PATIENT, [NHS.jane, ...SPARE])).map(
    (p) => `${p.id}@${p.version}`,
  );
  const outbox = (await repo.messaging.readOutbox(0, 1_000_000)).length;
  return [...counts, ...seeded, `outbox=${outbox}`].join(' ');
}
