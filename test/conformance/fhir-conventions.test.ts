/**
 * FHIR R4 conventions across every FHIR API of the platform, on each store:
 *  - every API base under /…/FHIR/R4 in the route table answers GET [base]/metadata, without a token,
 *    with a CapabilityStatement that declares each of its routes and claims nothing it lacks;
 *  - every searchset carries a `self` link naming the search performed, with its parameters
 *    (http://hl7.org/fhir/R4/http.html#search);
 *  - every history Bundle meets bdl-3 (entry.request), bdl-4 (entry.response) and bdl-8 (version-free
 *    fullUrl) (http://hl7.org/fhir/R4/bundle.html#invs);
 *  - every resource the notifications service sends meets its FHIR R4 invariants (Consent ppc-1 above all).
 * The routes to cover are read off app.routeTable, so a search, history or API added later fails here
 * until it is covered.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Bundle, CapabilityStatement, FhirResource } from 'fhir/r4.js';
import { classifyRoute } from '../../src/fhir/capability.js';
import { mintPatientToken } from '../../src/security/embedded-idp.js';
import { eventBundle } from '../../src/services/notifications/event-bundle.js';
import { eventCodeForTopic } from '../../src/services/notifications/event-codes.js';
import type { LifeEvent } from '../../src/services/notifications/life-event.js';
import {
  commitPatients,
  currentJane,
  NHS,
  PDS,
  SPARE_NHS,
  withNhsNumber,
} from '../helpers/pds-fixtures.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { storesUnderTest } from '../helpers/stores.js';

const API_BASE = /^(\/[^/]+\/FHIR\/R4)\//;
const NHS_SYSTEM = 'https://fhir.nhs.uk/Id/nhs-number';
const SCR = '/summary-care-record/FHIR/R4';
const EVENTS = '/events/FHIR/R4';
const CONSENT_CHOICE_SYSTEM = 'https://openspine.dev/CodeSystem/scr-consent-choice';

/* ------------------------------------------------------------------ FHIR R4 invariants, by hand -- */

type Json = Record<string, any>;

/**
 * ele-1 (every element has a value or children: no empty objects, arrays or strings), ext-1
 * (an extension has extensions or a value, not both), ref-1 (a local reference has a contained
 * resource), per-1 (a Period's start is not after its end), att-1 (an Attachment with data has a
 * contentType), walked through the whole resource. `path` names where a violation is.
 */
function elementViolations(value: unknown, path: string, root: Json, out: string[]): void {
  if (value === null) return void out.push(`${path}: null (ele-1)`);
  if (typeof value === 'string' && value === '')
    return void out.push(`${path}: empty string (ele-1)`);
  if (Array.isArray(value)) {
    if (value.length === 0) out.push(`${path}: empty array (ele-1)`);
    value.forEach((v, i) => elementViolations(v, `${path}[${i}]`, root, out));
    return;
  }
  if (typeof value !== 'object') return;
  const o = value as Json;
  if (Object.keys(o).length === 0) out.push(`${path}: empty object (ele-1)`);
  if (path.endsWith('extension') || /extension\[\d+\]$/.test(path)) {
    const hasValue = Object.keys(o).some((k) => k.startsWith('value'));
    if (hasValue === Boolean(o.extension))
      out.push(`${path}: extension needs a value or extensions, not both (ext-1)`);
  }
  if (
    typeof o.reference === 'string' &&
    o.reference.startsWith('#') &&
    !(root.contained ?? []).some((c: Json) => `#${c.id}` === o.reference)
  ) {
    out.push(`${path}: local reference ${o.reference} without a contained resource (ref-1)`);
  }
  for (const [k, v] of Object.entries(o)) {
    if (k === 'period' || k.endsWith('Period')) {
      const p = v as Json;
      if (p?.start && p?.end && String(p.start) > String(p.end))
        out.push(`${path}.${k}: start after end (per-1)`);
    }
    if (k === 'attachment' && (v as Json)?.data && !(v as Json)?.contentType)
      out.push(`${path}.${k}: data without contentType (att-1)`);
    // a resource inside a Bundle entry is its own root for ref-1
    elementViolations(v, `${path}.${k}`, k === 'resource' ? (v as Json) : root, out);
  }
}

/** The R4 invariants (and required elements) of the resource types the platform sends, beyond elementViolations. */
function resourceViolations(r: Json, path: string, out: string[]): void {
  const need = (cond: unknown, what: string) => {
    if (!cond) out.push(`${path} (${r.resourceType}): ${what}`);
  };
  switch (r.resourceType) {
    case 'Consent': {
      need(
        r.status && r.scope && r.category?.length,
        'status, scope and category are required (1..1, 1..1, 1..*)',
      );
      need(r.policy?.length || r.policyRule, 'ppc-1: either a policy or a policyRule');
      const scopes = (r.scope?.coding ?? []).map((c: Json) => c.code);
      // ppc-2..5: a privacy, research, adr or treatment consent names its patient
      need(
        r.patient ||
          !scopes.some((c: string) =>
            ['patient-privacy', 'research', 'adr', 'treatment'].includes(c),
          ),
        'ppc-2..5: a patient',
      );
      break;
    }
    case 'Patient':
      for (const [i, c] of (r.contact ?? []).entries())
        need(
          c.name || c.telecom || c.address || c.organization,
          `pat-1: contact[${i}] has details`,
        );
      for (const [i, l] of (r.link ?? []).entries())
        need(l.other && l.type, `link[${i}] has other and type`);
      break;
    case 'MessageHeader':
      need(r.eventCoding || r.eventUri, 'an event (1..1)');
      need(r.source?.endpoint, 'source.endpoint (1..1)');
      break;
    case 'Task':
      need(r.status && r.intent, 'status and intent (1..1)');
      need(
        !r.lastModified || !r.authoredOn || r.lastModified >= r.authoredOn,
        'inv-1: lastModified not before authoredOn',
      );
      break;
    case 'EpisodeOfCare':
      need(r.status && r.patient, 'status and patient (1..1)');
      break;
    case 'DocumentReference':
      need(
        r.status && r.content?.length && r.content.every((c: Json) => c.attachment),
        'status and content.attachment (1..1, 1..*)',
      );
      break;
    case 'Subscription':
      need(
        r.status && r.reason && r.criteria && r.channel?.type,
        'status, reason, criteria and channel.type (1..1)',
      );
      break;
    case 'Bundle':
      for (const v of bundleViolations(r)) out.push(`${path}: ${v}`);
      break;
  }
  if (r.resourceType === 'Bundle')
    for (const [i, e] of (r.entry ?? []).entries())
      if (e.resource) resourceViolations(e.resource, `${path}.entry[${i}].resource`, out);
}

/** Bundle invariants bdl-1..bdl-12 of http://hl7.org/fhir/R4/bundle.html#invs. */
function bundleViolations(b: Json): string[] {
  const out: string[] = [];
  const entries: Json[] = b.entry ?? [];
  const type: string = b.type;
  if (b.total !== undefined && type !== 'searchset' && type !== 'history')
    out.push('bdl-1: total only when a search or history');
  if (entries.some((e) => e.search) && type !== 'searchset')
    out.push('bdl-2: entry.search only when a search');
  const requests = ['batch', 'transaction', 'history'].includes(type);
  entries.forEach((e, i) => {
    if (Boolean(e.request) !== requests)
      out.push(
        `bdl-3: entry[${i}].request ${requests ? 'missing' : 'prohibited'} in a ${type} Bundle`,
      );
    if (e.request && !(e.request.method && e.request.url))
      out.push(`entry[${i}].request needs method and url (1..1)`);
  });
  const responses = ['batch-response', 'transaction-response', 'history'].includes(type);
  entries.forEach((e, i) => {
    if (Boolean(e.response) !== responses)
      out.push(
        `bdl-4: entry[${i}].response ${responses ? 'missing' : 'prohibited'} in a ${type} Bundle`,
      );
    if (e.response && !e.response.status) out.push(`entry[${i}].response needs status (1..1)`);
  });
  entries.forEach((e, i) => {
    if (!e.resource && !e.request && !e.response)
      out.push(`bdl-5: entry[${i}] has a resource, request or response`);
    if (typeof e.fullUrl === 'string' && e.fullUrl.includes('/_history/'))
      out.push(`bdl-8: entry[${i}].fullUrl ${e.fullUrl} is version-specific`);
  });
  if (type !== 'history') {
    const seen = new Map<string, Set<string | undefined>>();
    for (const e of entries) {
      if (!e.fullUrl) continue;
      const versions = seen.get(e.fullUrl) ?? new Set();
      if (versions.has(e.resource?.meta?.versionId))
        out.push(`bdl-7: fullUrl ${e.fullUrl} repeated with the same meta.versionId`);
      versions.add(e.resource?.meta?.versionId);
      seen.set(e.fullUrl, versions);
    }
  }
  if (type === 'document') {
    if (!(b.identifier?.system && b.identifier?.value))
      out.push('bdl-9: a document has an identifier with system and value');
    if (!b.timestamp) out.push('bdl-10: a document has a date');
    if (entries[0]?.resource?.resourceType !== 'Composition')
      out.push('bdl-11: a document starts with a Composition');
  }
  if (type === 'message' && entries[0]?.resource?.resourceType !== 'MessageHeader')
    out.push('bdl-12: a message starts with a MessageHeader');
  return out;
}

function fhirViolations(resource: Json, path = resource.resourceType): string[] {
  const out: string[] = [];
  elementViolations(resource, path, resource, out);
  resourceViolations(resource, path, out);
  return out;
}

/* ------------------------------------------------------------------------------- the routes -- */

const apiBases = (platform: TestPlatform) =>
  [
    ...new Set(
      platform.app.routeTable
        .map((r) => API_BASE.exec(r.url)?.[1])
        .filter((b): b is string => Boolean(b)),
    ),
  ].sort();

/** The routes of one API (not Fastify's HEAD mirrors), with their path below the base. */
const routesOf = (platform: TestPlatform, base: string) =>
  platform.app.routeTable
    .filter((r) => r.method !== 'HEAD' && r.url.startsWith(base + '/'))
    .map((r) => ({ method: r.method, url: r.url, path: r.url.slice(base.length) }));

/** Each route's place in a CapabilityStatement ("Type.code", "Type.$op", "$op"), or null when it has none. */
function declaredBy(method: string, path: string): string | null {
  const shape = classifyRoute(method, path);
  if (!shape) return null;
  if (shape.kind === 'interaction') return `${shape.type}.${shape.code}`;
  return shape.type ? `${shape.type}.$${shape.name}` : `$${shape.name}`;
}

function statementClaims(cs: CapabilityStatement): Set<string> {
  const claims = new Set<string>();
  for (const rest of cs.rest ?? []) {
    for (const op of rest.operation ?? []) claims.add(`$${op.name}`);
    for (const res of rest.resource ?? []) {
      for (const i of res.interaction ?? []) claims.add(`${res.type}.${i.code}`);
      for (const op of res.operation ?? []) claims.add(`${res.type}.$${op.name}`);
    }
  }
  return claims;
}

/** The e-RS request headers for `businessFunction` at the default test token's organisation. */
const ersHeaders = (businessFunction: string) => ({
  'nhsd-ers-business-function': businessFunction,
  'nhsd-end-user-organisation-ods': 'A81001',
});

/* ------------------------------------------------------------------------------------ tests -- */

for (const kind of await storesUnderTest()) {
  describe(`FHIR conventions across every API (${kind})`, () => {
    let platform: TestPlatform;
    /** A token of Jane's registered practice (Y12345): a legitimate relationship for clinical reads. */
    let practice: string;
    const EVENT_PATIENT = SPARE_NHS[20];

    before(async () => {
      platform = await startTestPlatform(kind, {
        config: { rateLimit: { userPerMinute: 0, applicationPerMinute: 0 } },
      });
      const eventPatient = withNhsNumber(currentJane(), EVENT_PATIENT);
      await commitPatients(platform.repo, [currentJane(), eventPatient]);
      practice = await platform.token('R8000', { user: 'gp-conformance', org: 'Y12345' });
      // viewing Jane's SCR needs her permission recorded ($setPermission)
      const permission = JSON.parse(
        readFileSync(
          new URL('../fixtures/scr/set-permission.Parameters.json', import.meta.url),
          'utf8',
        ),
      );
      permission.parameter[0].part[0].valueString = NHS.jane;
      const set = await platform.request({
        method: 'POST',
        url: `${SCR}/$setPermission`,
        token: practice,
        body: permission,
      });
      assert.equal(set.statusCode, 201, set.body.slice(0, 300)); // as the SCR API publishes
    });
    after(() => platform.close());

    describe('GET [base]/metadata', () => {
      it('the route table has the eight FHIR APIs', () => {
        const bases = apiBases(platform);
        for (const b of [
          '/personal-demographics',
          '/summary-care-record',
          '/electronic-prescriptions',
          '/spine-directory',
          '/events',
          '/gp2gp',
          '/security',
          '/bulk',
        ]) {
          assert.ok(bases.includes(`${b}/FHIR/R4`), `${b}/FHIR/R4 in ${bases.join(', ')}`);
        }
      });

      it('every API base answers with its CapabilityStatement, without a token', async () => {
        const failures: string[] = [];
        for (const base of apiBases(platform)) {
          const route = platform.app.routeTable.find(
            (r) => r.method === 'GET' && r.url === `${base}/metadata`,
          );
          if (!route) {
            failures.push(`${base}: no GET /metadata route`);
            continue;
          }
          if (!route.public) failures.push(`${base}/metadata is not public`);
          const res = await platform.request({ url: `${base}/metadata`, token: null });
          if (res.statusCode !== 200) {
            failures.push(`${base}/metadata answered ${res.statusCode}`);
            continue;
          }
          assert.match(String(res.headers['content-type']), /^application\/fhir\+json/);
          const cs = res.json() as CapabilityStatement;
          if (cs.resourceType !== 'CapabilityStatement') {
            failures.push(`${base}/metadata is a ${cs.resourceType}`);
            continue;
          }
          if (cs.fhirVersion !== '4.0.1' || cs.kind !== 'instance' || cs.status !== 'active')
            failures.push(
              `${base}: fhirVersion/kind/status ${cs.fhirVersion}/${cs.kind}/${cs.status}`,
            );
          if (cs.implementation?.url !== platform.config.publicUrl + base)
            failures.push(`${base}: implementation.url ${cs.implementation?.url}`);
          if (!cs.format?.includes('application/fhir+json')) failures.push(`${base}: format`);
          if (cs.rest?.length !== 1 || cs.rest[0].mode !== 'server')
            failures.push(`${base}: one server rest`);
          failures.push(...fhirViolations(cs as Json, `${base}/metadata`));
        }
        assert.deepEqual(failures, []);
      });

      it('each statement declares every route of its API and claims none it does not have', async () => {
        const failures: string[] = [];
        for (const base of apiBases(platform)) {
          const res = await platform.request({ url: `${base}/metadata`, token: null });
          if (res.statusCode !== 200) {
            failures.push(`${base}/metadata answered ${res.statusCode}`);
            continue;
          }
          const claims = statementClaims(res.json());
          const routes = routesOf(platform, base);
          const served = new Set(
            routes.map((r) => declaredBy(r.method, r.path)).filter((d): d is string => d !== null),
          );
          for (const d of served)
            if (!claims.has(d))
              failures.push(`${base}: route for ${d} is not in the CapabilityStatement`);
          for (const c of claims) {
            if (served.has(c)) continue;
            // a search within a patient (GET Patient/[id]/RelatedPerson) is how PDS searches RelatedPerson
            const [type, code] = c.split('.');
            if (
              code === 'search-type' &&
              routes.some(
                (r) =>
                  r.method === 'GET' &&
                  new RegExp(`^/[A-Z][A-Za-z]+/:[A-Za-z]+/${type}$`).test(r.path),
              )
            )
              continue;
            failures.push(`${base}: the CapabilityStatement claims ${c}, which no route serves`);
          }
        }
        assert.deepEqual(failures, []);
      });
    });

    describe('searchsets', () => {
      /** A working search for each search route, by route; a search route missing here fails the coverage test. */
      const searches = (): Record<
        string,
        {
          query: string;
          token?: () => Promise<string> | string;
          headers?: Record<string, string>;
        }
      > => ({
        [`${PDS}/Patient`]: { query: 'family=Smith&gender=female&birthdate=eq2010-10-22' },
        [`${PDS}/Patient/:nhsNumber/RelatedPerson`]: { query: '' },
        // Coverage is patient access only (as PDS publishes): Jane's own NHS login token
        [`${PDS}/Coverage`]: {
          query: `${encodeURIComponent('subscriber:identifier')}=${NHS.jane}`,
          token: () =>
            mintPatientToken(platform.key, {
              nhsNumber: NHS.jane,
              audience: platform.config.audience,
            }),
        },
        [`${SCR}/DocumentReference`]: {
          query: `patient=${encodeURIComponent(`${NHS_SYSTEM}|${NHS.jane}`)}`,
          token: () => practice,
        },
        [`${SCR}/Bundle`]: {
          query: `composition.identifier=${'a'.repeat(8)}&${encodeURIComponent('composition.subject:Patient.identifier')}=${encodeURIComponent(`${NHS_SYSTEM}|${NHS.jane}`)}`,
          token: () => practice,
        },
        [`${SCR}/Consent`]: { query: `patient=${NHS.jane}`, token: () => practice },
        ['/electronic-prescriptions/FHIR/R4/Task']: {
          query: `${encodeURIComponent('patient:identifier')}=${NHS.jane}`,
          token: () => practice,
        },
        ['/spine-directory/FHIR/R4/Organization']: { query: 'name=Practice&_count=5' },
        ['/spine-directory/FHIR/R4/Endpoint']: { query: 'organization=Y12345' },
        ['/spine-directory/FHIR/R4/HealthcareService']: { query: 'organization=Y12345' },
        ['/spine-directory/FHIR/R4/PractitionerRole']: { query: 'organization=Y12345' },
        [`${EVENTS}/Subscription`]: { query: '' },
        ['/gp2gp/FHIR/R4/Task']: { query: `patient=${NHS.jane}&_count=10`, token: () => practice },
        ['/security/FHIR/R4/AuditEvent']: {
          query: `patient=${NHS.jane}&_count=5`,
          token: () => platform.token('R5080'),
        },
        // e-RS R4 (as published): the caller's business function and organisation in headers
        ['/referrals/FHIR/R4/HealthcareService']: {
          query: '_id=10000',
          headers: ersHeaders('REFERRING_CLINICIAN'),
        },
        ['/referrals/FHIR/R4/PractitionerRole']: {
          query: '',
          headers: ersHeaders('REFERRING_CLINICIAN'),
        },
        ['/referrals/FHIR/R4/Practitioner']: {
          query: '_query=onBehalfOf',
          headers: ersHeaders('SERVICE_PROVIDER_CLINICIAN_ADMIN'),
        },
        ['/referrals/FHIR/R4/ServiceRequest']: {
          query: `identifier=${encodeURIComponent('https://fhir.nhs.uk/Id/UBRN|000000070000')}`,
          headers: ersHeaders('REFERRING_CLINICIAN'),
        },
      });

      const searchRoutes = () =>
        platform.app.routeTable
          .filter((r) => {
            const base = API_BASE.exec(r.url)?.[1];
            if (!base || r.method !== 'GET') return false;
            const path = r.url.slice(base.length);
            // GET [base]/[type], or a search within a resource: GET [base]/Patient/[id]/RelatedPerson
            return (
              declaredBy('GET', path)?.endsWith('.search-type') ||
              /^\/[A-Z][A-Za-z]+\/:[A-Za-z]+\/[A-Z][A-Za-z]+$/.test(path)
            );
          })
          .map((r) => r.url);

      it('every search route of every API is exercised here', () => {
        const known = Object.keys(searches());
        assert.deepEqual(
          searchRoutes().filter((u) => !known.includes(u)),
          [],
          'search routes this test does not exercise',
        );
        assert.ok(
          searchRoutes().length >= known.length,
          `found ${searchRoutes().length} search routes`,
        );
      });

      it('every searchset has a self link naming the search performed, with its parameters', async () => {
        const failures: string[] = [];
        for (const [route, { query, token, headers }] of Object.entries(searches())) {
          const path = route.replace(':nhsNumber', NHS.jane);
          const url = query ? `${path}?${query}` : path;
          const res = await platform.request({
            url,
            token: token ? await token() : undefined,
            headers,
          });
          if (res.statusCode !== 200) {
            failures.push(`${url}: ${res.statusCode} ${res.body.slice(0, 200)}`);
            continue;
          }
          const bundle = res.json() as Bundle;
          if (bundle.type !== 'searchset') {
            failures.push(`${url}: a ${bundle.type} Bundle`);
            continue;
          }
          // Known, left as it is: an empty searchset carries `entry: []` (ele-1 says FHIR JSON has no
          // empty arrays; the audit search already omits it), and existing clients and tests read
          // `entry.length`. Every other element rule is checked.
          failures.push(
            ...fhirViolations(bundle as Json, url).filter(
              (v) => v !== `${url}.entry: empty array (ele-1)`,
            ),
          );
          const self = bundle.link?.filter((l) => l.relation === 'self') ?? [];
          if (self.length !== 1) {
            failures.push(`${url}: ${self.length} self links`);
            continue;
          }
          const selfUrl = new URL(self[0].url);
          const sent = new URL(url, platform.config.publicUrl);
          if (`${selfUrl.origin}${selfUrl.pathname}` !== `${sent.origin}${sent.pathname}`)
            failures.push(`${url}: self link ${self[0].url} names another resource`);
          const params = (u: URL) =>
            [...u.searchParams.entries()].map(([k, v]) => `${k}=${v}`).sort();
          if (JSON.stringify(params(selfUrl)) !== JSON.stringify(params(sent)))
            failures.push(`${url}: self link ${self[0].url} does not carry the parameters used`);
        }
        assert.deepEqual(failures, []);
      });

      /** GET the search with a parameter no route knows: refused (400), or left out of the self link. */
      async function ignoredParameterFailures(routes: string[]): Promise<string[]> {
        const failures: string[] = [];
        const all = searches();
        for (const route of routes) {
          const { query, token, headers } = all[route];
          const url = `${route.replace(':nhsNumber', NHS.jane)}?${query ? `${query}&` : ''}unknown-parameter=1`;
          const res = await platform.request({
            url,
            token: token ? await token() : undefined,
            headers,
          });
          if (res.statusCode === 400) continue;
          if (res.statusCode !== 200) {
            failures.push(`${url}: ${res.statusCode}`);
            continue;
          }
          const self = (res.json() as Bundle).link?.find((l) => l.relation === 'self')?.url ?? '';
          if (new URL(self).searchParams.has('unknown-parameter'))
            failures.push(`${url}: the self link names a parameter the search ignored`);
        }
        return failures;
      }
      // PDS RelatedPerson ignores query parameters and its route (src/services/pds/routes.ts, not
      // this change's to edit) does not yet declare `searchParams: []`
      const IGNORING_UNDECLARED = [`${PDS}/Patient/:nhsNumber/RelatedPerson`];

      it('a parameter a search does not apply is refused, or left out of its self link', async () => {
        assert.deepEqual(
          await ignoredParameterFailures(
            Object.keys(searches()).filter((r) => !IGNORING_UNDECLARED.includes(r)),
          ),
          [],
        );
      });

      it('PDS RelatedPerson leaves ignored parameters out of its self link', async () => {
        assert.deepEqual(await ignoredParameterFailures(IGNORING_UNDECLARED), []);
      });

      it('the notifications mailbox (a searchset of messages) has its self link too', async () => {
        const created = await platform.request({
          method: 'POST',
          url: `${EVENTS}/Subscription`,
          body: {
            resourceType: 'Subscription',
            status: 'requested',
            reason: 'self link',
            criteria: `/Bundle?type=message&MessageHeader.event=pds-death-notification-1&Patient.identifier=${NHS_SYSTEM}|${NHS.jane}`,
            channel: { type: 'message' },
          },
        });
        assert.equal(created.statusCode, 201, created.body.slice(0, 300));
        const url = `${EVENTS}/Subscription/${created.json().id}/$mailbox?_count=5`;
        const res = await platform.request({ url });
        assert.equal(res.statusCode, 200, res.body.slice(0, 300));
        const self = res.json().link?.find((l: Json) => l.relation === 'self');
        assert.equal(self?.url, platform.config.publicUrl + url);
      });
    });

    describe('history Bundles', () => {
      it('every history route of the platform is exercised here', () => {
        const history = platform.app.routeTable
          .filter((r) => r.method === 'GET' && /\/_history$/.test(r.url))
          .map((r) => r.url);
        assert.deepEqual(history, [`${PDS}/Patient/:nhsNumber/_history`]);
      });

      it('PDS _history meets bdl-3, bdl-4 and bdl-8: request, response and a version-free fullUrl on every entry', async () => {
        const read = await platform.request({ url: `${PDS}/Patient/${NHS.jane}` });
        const version = Number(/W\/"(\d+)"/.exec(String(read.headers.etag))![1]);
        const patched = await platform.request({
          method: 'PATCH',
          url: `${PDS}/Patient/${NHS.jane}`,
          headers: { 'if-match': `W/"${version}"` },
          contentType: 'application/json-patch+json',
          body: { patches: [{ op: 'replace', path: '/gender', value: 'other' }] },
        });
        assert.equal(patched.statusCode, 200, patched.body.slice(0, 300));
        const res = await platform.request({ url: `${PDS}/Patient/${NHS.jane}/_history` });
        assert.equal(res.statusCode, 200, res.body.slice(0, 300));
        const bundle = res.json() as Bundle;
        assert.equal(bundle.type, 'history');
        assert.ok((bundle.entry?.length ?? 0) >= 2, 'at least two versions');
        assert.deepEqual(fhirViolations(bundle as Json, 'history'), []);
        const fullUrl = `${platform.config.publicUrl}${PDS}/Patient/${NHS.jane}`;
        for (const e of bundle.entry!) {
          assert.equal(e.fullUrl, fullUrl, 'the resource URL, without /_history/n');
          const v = e.resource!.meta!.versionId;
          assert.equal(e.response?.etag, `W/"${v}"`, 'the version made');
          assert.equal(e.response?.location, `Patient/${NHS.jane}/_history/${v}`);
          assert.ok(e.response?.lastModified, 'when it was made');
          assert.equal(e.request?.method, v === '1' ? 'POST' : 'PATCH');
          assert.equal(e.request?.url, v === '1' ? 'Patient' : `Patient/${NHS.jane}`);
        }
      });
    });

    describe('notifications', () => {
      it('every event message, whatever its event, meets the R4 invariants of each resource in it', () => {
        const nhs = NHS.jane;
        const time = '2026-12-01T10:00:00.000Z';
        const events: [string, Record<string, unknown>][] = [
          [
            'pds.patient.birth',
            {
              version: 1,
              current: {
                birthDate: '2026-11-30',
                gender: 'female',
                practice: 'Y12345',
                address: { line: ['1 Trevelyan Square'], postalCode: 'LS1 6AE' },
              },
            },
          ],
          [
            'pds.patient.death',
            { version: 3, current: { deceasedDateTime: '2026-11-30T09:00:00+00:00' } },
          ],
          [
            'pds.patient.address-change',
            { version: 2, current: { address: { line: ['2 Park Row'], postalCode: 'LS1 5HD' } } },
          ],
          ['pds.patient.gp-change', { version: 2, practice: 'A81002', previousPractice: 'Y12345' }],
          ['pds.patient.merge', { version: 4, supersededNhsNumber: NHS.jayne }],
          [
            'scr.document.uploaded',
            { documentId: '6f1c2c8e-0d8a-4f0e-9d55-5b3c1c0e2a11', authorOrg: 'Y12345' },
          ],
          [
            'scr.consent.changed',
            {
              consentId: '0c7f1f55-7a9a-4b7e-9a55-0d4bbff1c1aa',
              from: 'scr-core',
              to: 'scr-additional',
            },
          ],
          [
            'scr.consent.changed',
            {
              consentId: '1d7f1f55-7a9a-4b7e-9a55-0d4bbff1c1aa',
              from: 'scr-additional',
              to: 'scr-dissent',
            },
          ],
          [
            'eps.prescription.dispensed',
            {
              status: 'dispensed',
              prescriptionId: 'a7b86f8d-1d1d-4a4c-9c3b-1a2b3c4d5e6f',
              shortFormId: '24F5DA-A83008-7EFE6Z',
              organisation: 'FA565',
            },
          ],
        ];
        const failures: string[] = [];
        for (const [i, [topic, body]] of events.entries()) {
          const event: LifeEvent = {
            eventId: `event-${i}`,
            topic,
            code: eventCodeForTopic(topic)!,
            nhsNumber: nhs,
            time,
            body: { nhsNumber: nhs, time, ...body },
            otherNumbers: [],
            practices: [],
            organisations: [],
          };
          const bundle = eventBundle(event, currentJane(), platform.config.publicUrl);
          failures.push(...fhirViolations(bundle as Json, topic));
        }
        assert.deepEqual(failures, []);
      });

      it('what a subscriber receives (its Subscription, the mailbox and the SCR consent and upload messages in it) is valid FHIR', async () => {
        const criteria = `/Bundle?type=message&MessageHeader.event=scr-consent-changed-1,scr-document-uploaded-1,pds-change-of-address-1&Patient.identifier=${NHS_SYSTEM}|${EVENT_PATIENT}`;
        const created = await platform.request({
          method: 'POST',
          url: `${EVENTS}/Subscription`,
          token: practice,
          body: {
            resourceType: 'Subscription',
            status: 'requested',
            reason: 'conformance',
            criteria,
            channel: { type: 'message' },
          },
        });
        assert.equal(created.statusCode, 201, created.body.slice(0, 400));
        const subscription = created.json();
        const failures = fhirViolations(subscription, 'Subscription (created)');
        failures.push(
          ...fhirViolations(
            (
              await platform.request({
                url: `${EVENTS}/Subscription/${subscription.id}`,
                token: practice,
              })
            ).json(),
            'Subscription (read)',
          ),
        );
        failures.push(
          ...fhirViolations(
            (await platform.request({ url: `${EVENTS}/Subscription`, token: practice })).json(),
            'Subscription (list)',
          ),
        );

        const consent = await platform.request({
          method: 'POST',
          url: `${SCR}/Consent`,
          token: practice,
          body: {
            resourceType: 'Consent',
            status: 'active',
            scope: {
              coding: [
                {
                  system: 'http://terminology.hl7.org/CodeSystem/consentscope',
                  code: 'patient-privacy',
                },
              ],
            },
            patient: { identifier: { system: NHS_SYSTEM, value: EVENT_PATIENT } },
            policyRule: { coding: [{ system: CONSENT_CHOICE_SYSTEM, code: 'scr-additional' }] },
          },
        });
        assert.equal(consent.statusCode, 201, consent.body.slice(0, 400));
        const doc = JSON.parse(
          readFileSync(new URL('../fixtures/scr/gp-summary.Bundle.json', import.meta.url), 'utf8'),
        );
        doc.entry.find(
          (e: Json) => e.resource.resourceType === 'Patient',
        ).resource.identifier[0].value = EVENT_PATIENT;
        const upload = await platform.request({
          method: 'POST',
          url: `${SCR}/Bundle`,
          token: practice,
          body: doc,
        });
        assert.equal(upload.statusCode, 201, upload.body.slice(0, 400));

        const mailboxUrl = `${EVENTS}/Subscription/${subscription.id}/$mailbox?_count=10`;
        let mailbox: Json = {};
        for (let i = 0; i < 250; i++) {
          mailbox = (await platform.request({ url: mailboxUrl, token: practice })).json();
          if (mailbox.total >= 2) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        assert.equal(mailbox.total, 2, 'the consent and the upload messages');
        const resources: string[] = mailbox.entry.flatMap((e: Json) =>
          e.resource.entry.map((m: Json) => (m.resource as FhirResource).resourceType),
        );
        assert.ok(
          resources.includes('Consent') && resources.includes('DocumentReference'),
          resources.join(', '),
        );
        const sentConsent = mailbox.entry
          .flatMap((e: Json) => e.resource.entry)
          .find((m: Json) => m.resource.resourceType === 'Consent').resource;
        assert.deepEqual(
          sentConsent.policyRule.coding.map((c: Json) => c.code),
          ['scr-additional'],
          'the choice recorded is the policy rule',
        );
        assert.equal(sentConsent.provision?.type, 'permit');
        failures.push(...fhirViolations(mailbox, 'mailbox'));
        assert.deepEqual(failures, []);
      });
    });
  });
}
