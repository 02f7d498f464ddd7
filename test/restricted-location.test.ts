/**
 * A restricted (sensitive) patient's location data never leaves the platform. One restricted
 * patient is given data in every service (PDS, a GP's SCR upload carrying their address, a
 * prescription released and dispensed, a life-event mailbox, a GP2GP transfer, the audit trail, an
 * e-Referral booked, printed and discussed as advice and guidance: test/helpers/restricted-ers.ts),
 * then every route of the platform's route table that can return patient data is read for them, and
 * each whole body is searched for their address, postcode, phone, email, GP and pharmacy codes. The
 * route table drives it: a GET route that is neither read here nor listed as carrying no patient
 * data fails the test, so a new route cannot skip the rule. Bulk export, notification delivery and
 * the SUS extract are checked the same way; a migration export (the one named purpose that includes
 * location data) shows the search would find the values if they were there.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Patient, RelatedPerson } from 'fhir/r4.js';
import { mintApplicationToken, mintPatientToken } from '../src/security/embedded-idp.js';
import { BULK_BASE } from '../src/services/bulk/routes.js';
import { GP2GP_BASE } from '../src/services/gp2gp/routes.js';
import { NOTIFICATIONS_BASE } from '../src/services/notifications/routes.js';
import { SCR_BASE } from '../src/services/scr/routes.js';
import { COVERAGE, coverageDocument, coverageIndex } from '../src/services/pds/coverage-model.js';
import { SECURITY_BASE } from '../src/services/security/routes.js';
import { SCR_PERMISSION_TYPE, permissionId } from '../src/services/scr/consent-store.js';
import { CONSENT_CHOICE_SYSTEM } from '../src/services/scr/consent-codes.js';
import { NotificationDeliverer } from '../src/services/notifications/deliverer.js';
import { OWNER_EXTENSION } from '../src/services/notifications/subscription-model.js';
import { extractSus } from '../src/services/sus/extract.js';
import { pseudonymFor } from '../src/services/sus/pseudonym.js';
import {
  commitPatients,
  commitRelatedPerson,
  currentJane,
  living,
  withNhsNumber,
} from './helpers/pds-fixtures.js';
import {
  GP_ORG,
  nextNhsNumber,
  orderBundle,
  PHARMACY,
  registeredKey,
  signDigest,
  withSignature,
  dispenseNotification,
  orderIds,
  EPS,
} from './helpers/eps-prescribing.js';
import { PDS, startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';
import { readErsFor, type ErsReadsFor } from './helpers/restricted-ers.js';
import { readWebPagesFor, WEB_PAGES_WITHOUT_PATIENT_DATA } from './helpers/restricted-web.js';
import { NHS_NUMBER_SYSTEM as NHS_SYSTEM, ODS_SYSTEM as ODS } from '../src/fhir/identifiers.js';

const [SCR, EVENTS, GP2GP, BULK, SECURITY] = [
  SCR_BASE,
  NOTIFICATIONS_BASE,
  GP2GP_BASE,
  BULK_BASE,
  SECURITY_BASE,
];
const OLD_PRACTICE = 'B82005';
const NEIGHBOUR_GP = 'B86018';

/** What the restricted patient's record holds, and what must never appear in anything the platform sends. */
const HOME = {
  use: 'home' as const,
  line: ['17 Quarry Bank Road', 'Headingley'],
  city: 'Leeds',
  postalCode: 'LS6 3QZ',
  period: { start: '2019-04-01' },
};
const PHONE = '0113 496 0772';
const EMAIL = 'quarry.hidden@example.org';
const CONTACT_PHONE = '07700 900461';

/** The tell-tales of each location value, each allowing for how it might be written. */
const digitsPattern = (digits: string) => new RegExp(digits.split('').join('[^0-9]{0,3}'));
const TELLTALES: [string, RegExp][] = [
  ['postcode', /LS6\s*3QZ/i],
  ['address line', /17 Quarry Bank Road/i],
  ['phone', digitsPattern('1134960772')],
  ['contact phone', digitsPattern('7700900461')],
  ['email', /quarry\.hidden@example\.org/i],
  ['GP code', new RegExp(GP_ORG, 'i')],
  ['pharmacy code', new RegExp(PHARMACY, 'i')],
];
const leaksIn = (body: string): string[] =>
  TELLTALES.filter(([, re]) => re.test(body)).map(([name]) => name);

/** GET routes that carry no patient data at all, with why (every other GET route must be read below). */
const NO_PATIENT_DATA: Record<string, string> = {
  'GET /_ping': 'liveness',
  'GET /_status': 'health counts',
  'GET /_status/live': 'liveness',
  'GET /_status/ready': 'readiness checks (store, schema, bus, signer, draining)',
  'GET /metrics': 'Prometheus metrics: counts and latencies by route pattern, no patient data',
  'GET /.well-known/jwks.json': 'public keys',
  'GET /.well-known/openid-configuration': 'issuer metadata',
  'GET /oauth2/authorize': 'sign-in page',
  'GET /oauth2/userinfo': 'the signed-in user',
  'GET /oauth2/dev-callback': 'sign-in code display',
  'GET /personal-demographics/FHIR/R4/metadata': 'CapabilityStatement',
  'GET /spine-directory/FHIR/R4/metadata': 'CapabilityStatement',
  'GET /summary-care-record/FHIR/R4/metadata': 'CapabilityStatement',
  'GET /electronic-prescriptions/FHIR/R4/metadata': 'CapabilityStatement',
  'GET /events/FHIR/R4/metadata': 'CapabilityStatement',
  'GET /gp2gp/FHIR/R4/metadata': 'CapabilityStatement',
  'GET /security/FHIR/R4/metadata': 'CapabilityStatement',
  'GET /bulk/FHIR/R4/metadata': 'CapabilityStatement',
  'GET /spine-directory/FHIR/R4/Organization/:odsCode': 'organisations, not patients',
  'GET /spine-directory/FHIR/R4/Organization': 'organisations',
  'GET /spine-directory/FHIR/R4/Endpoint': 'endpoints',
  'GET /spine-directory/FHIR/R4/Endpoint/:id': 'endpoints',
  'GET /spine-directory/FHIR/R4/HealthcareService': 'services',
  'GET /spine-directory/FHIR/R4/HealthcareService/:id': 'services',
  'GET /spine-directory/FHIR/R4/PractitionerRole': 'staff roles',
  'GET /spine-directory/FHIR/R4/PractitionerRole/:id': 'staff roles',
  'GET /security/FHIR/R4/AuditEvent/$verify': 'chain counts and hashes only',
  'GET /bulk/FHIR/R4/$export': 'kick-off: an OperationOutcome',
  'GET /bulk/FHIR/R4/Patient/$export': 'kick-off',
  'GET /bulk/FHIR/R4/Group/:id/$export': 'kick-off',
  'GET /bulk/FHIR/R4/$export-poll-status/:id':
    'the manifest: file URLs and counts (the files are checked in their own test)',
  'GET /bulk/FHIR/R4/$export-file/:id/:file':
    'NDJSON released where it is written: checked in the bulk export test below',
  'GET /gp2gp/FHIR/R4/Task/:id/attachment/:attachmentId':
    "an attachment's opaque bytes (a scanned document), not FHIR",
  'GET /messaging/dead-letters':
    'operator view of failed deliveries; message bodies pass the same rule (none exist here)',
  'GET /messaging/dead-letters/:id': 'as above',
  'GET /messaging/status':
    'counts, consumer names, topics and handler errors of dead letters: no message bodies or keys',
  'GET /security/FHIR/R4/AuditEvent/$export':
    'the signed audit export: the named exception (signed-audit-export), asserted below',
  'GET /referrals/FHIR/STU3/metadata': 'CapabilityStatement',
  'GET /referrals/FHIR/R4/metadata': 'CapabilityStatement',
  'GET /referrals/FHIR/STU3/CodeSystem/:codeSystemType': 'reference data code systems (a004)',
  'GET /referrals/FHIR/STU3/Slot':
    "a service's free slots (a015): times and schedules, no patient (the patient's own slot view is read)",
  'GET /referrals/FHIR/STU3/Binary/:attachmentLogicalID':
    "an attachment's opaque bytes uploaded by the referrer (a006), not FHIR",
  'GET /referrals/FHIR/R4/HealthcareService/:id': 'e-RS services (a033)',
  'GET /referrals/FHIR/R4/HealthcareService': 'e-RS services (a035)',
  'GET /referrals/FHIR/R4/PractitionerRole': "the caller's own business functions (a030)",
  'GET /referrals/FHIR/R4/Practitioner': 'staff a user may act on behalf of (a040)',
  'GET /referrals/FHIR/R4/ServiceRequest':
    'ids, status and NHS Number of the referral / A&G request under a UBRN (a041), no location',
  'GET /referrals/FHIR/R4/Binary/:id': 'a 307 to the temporary download location (a042), no body',
  'GET /referrals/FHIR/R4/Binary/:id/$download':
    "an attachment's opaque bytes uploaded by the referrer (a042's location, as a006), not FHIR",
};

for (const kind of await storesUnderTest()) {
  describe(`a restricted patient's location data never leaves (${kind})`, () => {
    let platform: TestPlatform;
    const R = nextNhsNumber();
    const OPEN = nextNhsNumber(); // an unrestricted neighbour: the control that the checks can see location data
    let gp: string,
      pharmacist: string,
      privacy: string,
      sysadmin: string,
      patientOwn: string,
      oldGp: string;
    const read = new Map<string, { url: string; status: number; body: string }>();
    let ers: ErsReadsFor;
    let webUnmapped: string[] = [];

    const restricted = (): Patient =>
      ({
        ...withNhsNumber(living(currentJane()), R),
        meta: {
          versionId: '1',
          security: [
            {
              system: 'https://www.hl7.org/fhir/valueset-security-labels.html',
              code: 'R',
              display: 'restricted',
            },
          ],
        },
        address: [{ id: 'a1', ...HOME }],
        telecom: [
          { id: 't1', system: 'phone', value: PHONE, use: 'home' },
          { id: 't2', system: 'email', value: EMAIL, use: 'home' },
        ],
        contact: [
          {
            id: 'c1',
            relationship: [{ text: 'sister' }],
            telecom: [{ system: 'phone', value: CONTACT_PHONE }],
          },
        ],
        generalPractitioner: [
          { id: 'g1', type: 'Organization', identifier: { system: ODS, value: GP_ORG } },
        ],
        extension: [
          {
            url: 'https://fhir.nhs.uk/R4/StructureDefinition/Extension-UKCore-NominatedPharmacy',
            valueReference: { identifier: { system: ODS, value: PHARMACY } },
          },
        ],
      }) as Patient;

    /** Reads a route for the restricted patient and keeps the answer under its route-table key. */
    async function readRoute(
      route: string,
      url: string,
      token: string,
      opts: {
        method?: string;
        body?: unknown;
        contentType?: string;
        headers?: Record<string, string>;
      } = {},
    ) {
      const res = await platform.request({
        method: opts.method ?? 'GET',
        url,
        token,
        body: opts.body,
        contentType: opts.contentType,
        headers: opts.headers,
      });
      read.set(route, { url, status: res.statusCode, body: res.body });
      return res;
    }

    before(async () => {
      platform = await startTestPlatform(kind, {
        config: { rateLimit: { userPerMinute: 0, applicationPerMinute: 0 } },
      });
      const repo = platform.repo;
      const open = {
        ...withNhsNumber(living(currentJane()), OPEN),
        address: [{ ...HOME, line: ['2 Park Lane'], postalCode: 'LS2 9JT' }],
        generalPractitioner: [
          { type: 'Organization', identifier: { system: ODS, value: NEIGHBOUR_GP } },
        ],
      } as Patient;
      await commitPatients(repo, [restricted(), open]);
      const sister: RelatedPerson = {
        resourceType: 'RelatedPerson',
        id: `rp-${R}`,
        patient: { identifier: { system: NHS_SYSTEM, value: R } },
        name: [{ family: 'Quarry' }],
        address: [HOME],
        telecom: [{ system: 'phone', value: CONTACT_PHONE }],
      };
      await commitRelatedPerson(repo, sister, R);
      // an EHIC card of theirs (PDS Coverage, read by the patient themselves below)
      await repo.commit({
        resources: [
          {
            type: COVERAGE,
            id: R,
            expectedVersion: 0,
            index: coverageIndex(R),
            resource: coverageDocument(
              {
                nhsNumber: R,
                cardNumber: '80276001234567890123',
                country: 'FR',
                personalId: 'FR1234',
                institutionId: '1234-CPAM',
                expiry: '2030-01-01',
              },
              1,
            ) as unknown as Record<string, any>,
          },
        ],
      });
      gp = await platform.token('R8000', { user: 'prescriber-1', org: GP_ORG });
      pharmacist = await platform.token('R8003', { user: 'pharmacist-1', org: PHARMACY });
      privacy = await platform.token('R5080', { user: 'privacy-1', org: 'X26' });
      sysadmin = await platform.token('R8015', { user: 'sysadmin-1', org: 'X26' });
      oldGp = await platform.token('R8008', { user: 'old-gp', org: OLD_PRACTICE });
      patientOwn = await mintPatientToken(platform.key, {
        nhsNumber: R,
        audience: platform.config.audience,
      });

      // SCR: the GP's summary carries the patient's address and phone, and names the practice
      const consent = await platform.request({
        method: 'POST',
        url: `${SCR}/Consent`,
        token: gp,
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
          patient: { identifier: { system: NHS_SYSTEM, value: R } },
          policyRule: { coding: [{ system: CONSENT_CHOICE_SYSTEM, code: 'scr-additional' }] },
        },
      });
      assert.equal(consent.statusCode, 201, consent.body.slice(0, 300));
      const permission = permissionId(R, 'prescriber-1');
      await repo.commit({
        resources: [
          {
            type: SCR_PERMISSION_TYPE,
            id: permission,
            expectedVersion: 0,
            resource: {
              resourceType: SCR_PERMISSION_TYPE,
              id: permission,
              patient: R,
              userId: 'prescriber-1',
              org: GP_ORG,
              code: 'Yes',
              recorded: new Date().toISOString(),
              expires: new Date(Date.now() + 3_600_000).toISOString(),
            },
            index: [],
          },
        ],
      });
      const doc = JSON.parse(
        readFileSync(new URL('./fixtures/scr/gp-summary.Bundle.json', import.meta.url), 'utf8'),
      );
      for (const { resource } of doc.entry) {
        if (resource.resourceType === 'Patient')
          Object.assign(resource, {
            identifier: [{ system: NHS_SYSTEM, value: R }],
            address: [HOME],
            telecom: [{ system: 'phone', value: PHONE }],
          });
        if (resource.resourceType === 'Organization')
          resource.identifier = [{ system: ODS, value: GP_ORG }];
      }
      const uploaded = await platform.request({
        method: 'POST',
        url: `${SCR}/Bundle`,
        token: gp,
        body: doc,
      });
      assert.equal(uploaded.statusCode, 201, uploaded.body.slice(0, 300));
      read.set('POST /summary-care-record/FHIR/R4/Bundle', {
        url: `${SCR}/Bundle`,
        status: uploaded.statusCode,
        body: uploaded.body,
      });

      // EPS: prescribed with the patient's address on it (as published orders carry it), released, dispensed
      const key = await registeredKey(repo, 'prescriber-1');
      const order = orderBundle({ nhsNumber: R, withoutIds: true });
      Object.assign(order.entry.find((e: any) => e.resource.resourceType === 'Patient').resource, {
        address: [HOME],
      });
      const prepared = await platform.request({
        method: 'POST',
        url: `${EPS}/$prepare`,
        token: gp,
        body: order,
      });
      assert.equal(prepared.statusCode, 200, prepared.body.slice(0, 300));
      const params = prepared.json().parameter;
      const message = params.find((p: any) => p.name === 'message').resource;
      assert.deepEqual(
        message.entry.find((e: any) => e.resource.resourceType === 'Patient').resource.address,
        [HOME],
        "$prepare restates the caller's own message unchanged (it is signed)",
      );
      const signed = withSignature(
        message,
        await signDigest(key, params.find((p: any) => p.name === 'digest').valueString),
      );
      const sent = await platform.request({
        method: 'POST',
        url: `${EPS}/$process-message`,
        token: gp,
        body: signed,
      });
      assert.equal(sent.statusCode, 200, sent.body.slice(0, 300));
      read.set('POST /electronic-prescriptions/FHIR/R4/$process-message', {
        url: '',
        status: sent.statusCode,
        body: sent.body,
      });
      const ids = orderIds(signed);
      await readRoute(
        'POST /electronic-prescriptions/FHIR/R4/Task/$release',
        `${EPS}/Task/$release`,
        pharmacist,
        {
          method: 'POST',
          body: {
            resourceType: 'Parameters',
            parameter: [
              { name: 'status', valueCode: 'accepted' },
              {
                name: 'group-identifier',
                valueIdentifier: {
                  system: 'https://fhir.nhs.uk/Id/prescription-order-number',
                  value: ids.shortFormId,
                },
              },
            ],
          },
        },
      );
      const dispensed = await platform.request({
        method: 'POST',
        url: `${EPS}/MedicationDispense/$process-message`,
        token: pharmacist,
        body: dispenseNotification(
          ids,
          R,
          ids.items.map((item) => ({ item, code: '0001' as const, quantity: 20 })),
        ),
      });
      assert.equal(dispensed.statusCode, 200, dispensed.body.slice(0, 300));

      // notifications: a mailbox subscription, then a death recorded on PDS
      const sub = await platform.request({
        method: 'POST',
        url: `${EVENTS}/Subscription`,
        token: gp,
        body: {
          resourceType: 'Subscription',
          status: 'requested',
          reason: 'practice record',
          channel: { type: 'message', payload: 'application/fhir+json' },
          criteria: `/Bundle?type=message&MessageHeader.event=pds-death-notification-1&Patient.identifier=${NHS_SYSTEM}|${R}`,
        },
      });
      assert.equal(sub.statusCode, 201, sub.body.slice(0, 300));
      const subscriptionId = sub.json().id;
      const patched = await readRoute(
        'PATCH /personal-demographics/FHIR/R4/Patient/:nhsNumber',
        `${PDS}/Patient/${R}`,
        gp,
        {
          method: 'PATCH',
          contentType: 'application/json-patch+json',
          headers: { 'if-match': 'W/"1"' },
          body: {
            patches: [{ op: 'add', path: '/deceasedDateTime', value: '2026-11-30T10:00:00+00:00' }],
          },
        },
      );
      assert.equal(patched.statusCode, 200, patched.body.slice(0, 300));
      for (let i = 0; i < 200; i++) {
        const box = await platform.request({
          url: `${EVENTS}/Subscription/${subscriptionId}/$mailbox`,
          token: gp,
        });
        if (box.statusCode === 200 && box.body.includes(R)) break;
        await new Promise((r) => setTimeout(r, 25));
      }

      // GP2GP: the registered practice requests the record from the old one, which sends it with the address in it
      const requested = await platform.request({
        method: 'POST',
        url: `${GP2GP}/Task`,
        token: gp,
        body: {
          resourceType: 'Task',
          status: 'requested',
          intent: 'order',
          for: { identifier: { system: NHS_SYSTEM, value: R } },
          owner: { identifier: { system: ODS, value: OLD_PRACTICE } },
        },
      });
      assert.equal(requested.statusCode, 201, requested.body.slice(0, 300));
      const taskId = requested.json().id;
      const ehr = {
        resourceType: 'Bundle',
        type: 'collection',
        entry: [
          {
            fullUrl: `urn:uuid:${randomUUID()}`,
            resource: {
              resourceType: 'Patient',
              identifier: [{ system: NHS_SYSTEM, value: R }],
              address: [HOME],
              telecom: [{ system: 'phone', value: PHONE }],
              generalPractitioner: [{ identifier: { system: ODS, value: GP_ORG } }],
            },
          },
          {
            fullUrl: `urn:uuid:${randomUUID()}`,
            resource: {
              resourceType: 'Condition',
              code: { text: 'Asthma' },
              subject: { identifier: { system: NHS_SYSTEM, value: R } },
            },
          },
        ],
      };
      const sentEhr = await platform.request({
        method: 'POST',
        url: `${GP2GP}/Task/${taskId}/$send`,
        token: oldGp,
        body: { resourceType: 'Parameters', parameter: [{ name: 'ehr', resource: ehr }] },
      });
      assert.equal(sentEhr.statusCode, 200, sentEhr.body.slice(0, 300));

      // every GET route that can return patient data, read for the restricted patient
      const docId = uploaded.json().id;
      await readRoute(
        'GET /personal-demographics/FHIR/R4/Patient/:nhsNumber',
        `${PDS}/Patient/${R}`,
        gp,
      );
      await readRoute(
        'GET /personal-demographics/FHIR/R4/Patient',
        `${PDS}/Patient?family=${encodeURIComponent(restricted().name![0].family!)}&birthdate=eq${restricted().birthDate}`,
        gp,
      );
      await readRoute(
        'GET /personal-demographics/FHIR/R4/Patient/:nhsNumber/RelatedPerson',
        `${PDS}/Patient/${R}/RelatedPerson`,
        gp,
      );
      await readRoute(
        'GET /personal-demographics/FHIR/R4/Patient/:nhsNumber/_history',
        `${PDS}/Patient/${R}/_history`,
        gp,
      );
      await readRoute(
        'GET /summary-care-record/FHIR/R4/DocumentReference',
        `${SCR}/DocumentReference?patient=${NHS_SYSTEM}|${R}`,
        gp,
      );
      await readRoute(
        'GET /summary-care-record/FHIR/R4/Bundle/:id',
        `${SCR}/Bundle/${docId}?patient=${R}`,
        gp,
      );
      await readRoute(
        'GET /summary-care-record/FHIR/R4/Bundle',
        `${SCR}/Bundle?composition.identifier=${doc.entry[0].resource.identifier.value}&composition.subject:Patient.identifier=${NHS_SYSTEM}|${R}`,
        gp,
      );
      await readRoute(
        'GET /summary-care-record/FHIR/R4/$summary',
        `${SCR}/$summary?patient=${R}`,
        gp,
      );
      await readRoute(
        'GET /summary-care-record/FHIR/R4/Consent',
        `${SCR}/Consent?patient=${R}`,
        gp,
      );
      const consents = read.get('GET /summary-care-record/FHIR/R4/Consent')!;
      const consentId = JSON.parse(consents.body).entry?.[0]?.resource?.id ?? 'none';
      await readRoute(
        'GET /summary-care-record/FHIR/R4/Consent/:id',
        `${SCR}/Consent/${consentId}?patient=${R}`,
        gp,
      );
      await readRoute(
        'GET /electronic-prescriptions/FHIR/R4/Task',
        `${EPS}/Task?patient:identifier=${R}`,
        gp,
      );
      await readRoute('GET /events/FHIR/R4/Subscription', `${EVENTS}/Subscription`, gp);
      await readRoute(
        'GET /events/FHIR/R4/Subscription/:id',
        `${EVENTS}/Subscription/${subscriptionId}`,
        gp,
      );
      await readRoute(
        'GET /events/FHIR/R4/Subscription/:id/$mailbox',
        `${EVENTS}/Subscription/${subscriptionId}/$mailbox`,
        gp,
      );
      await readRoute('GET /gp2gp/FHIR/R4/Task', `${GP2GP}/Task?patient=${R}`, gp);
      await readRoute('GET /gp2gp/FHIR/R4/Task/:id', `${GP2GP}/Task/${taskId}`, gp);
      await readRoute('GET /gp2gp/FHIR/R4/Task/:id/$ehr', `${GP2GP}/Task/${taskId}/$ehr`, gp);
      // e-Referral: the practice refers the restricted patient (booked, letters, actions, worklists,
      // advice and guidance, their own routes, a service search); every answer is kept in `read`
      ers = await readErsFor(
        platform,
        { nhs: R, neighbour: OPEN, referrerOrg: GP_ORG, referrer: gp, patient: patientOwn },
        (route, url, res) => read.set(route, { url, status: res.statusCode, body: res.body }),
      );
      // the web application's pages, read as the people whose journeys they are
      webUnmapped = await readWebPagesFor(
        platform,
        {
          nhs: R,
          prescription: ids.shortFormId,
          transfer: taskId,
          ubrn: ers.ubrn,
          gpOrg: GP_ORG,
          pharmacy: PHARMACY,
        },
        restricted().name![0].family!,
        restricted().birthDate!,
        (route, url, status, body) => read.set(route, { url, status, body }),
      );
      await readRoute(
        'GET /security/FHIR/R4/AuditEvent',
        `${SECURITY}/AuditEvent?patient=${R}`,
        privacy,
      );
      const events = JSON.parse(read.get('GET /security/FHIR/R4/AuditEvent')!.body);
      await readRoute(
        'GET /security/FHIR/R4/AuditEvent/:id',
        `${SECURITY}/AuditEvent/${events.entry?.[0]?.resource?.id ?? 1}`,
        privacy,
      );
      read.set('GET /security/FHIR/R4/AuditEvent (patient view)', {
        url: '',
        ...(await platform
          .request({ url: `${SECURITY}/AuditEvent?patient=${R}`, token: patientOwn })
          .then((r) => ({ status: r.statusCode, body: r.body }))),
      });
      await readRoute(
        'GET /personal-demographics/FHIR/R4/Coverage',
        `${PDS}/Coverage?subscriber:identifier=${R}`,
        patientOwn,
      );
      read.set('GET /personal-demographics/FHIR/R4/Patient/:nhsNumber (patient view)', {
        url: '',
        ...(await platform
          .request({ url: `${PDS}/Patient/${R}`, token: patientOwn })
          .then((r) => ({ status: r.statusCode, body: r.body }))),
      });
    });
    after(() => platform?.close());

    it("the neighbour control: the same checks do see an unrestricted patient's location data", async () => {
      const res = await platform.request({ url: `${PDS}/Patient/${OPEN}`, token: gp });
      assert.equal(res.statusCode, 200);
      assert.ok(
        res.body.includes('LS2 9JT') && res.body.includes(NEIGHBOUR_GP),
        "an unrestricted record's address and GP are there to see",
      );
      const both = read.get('GET /personal-demographics/FHIR/R4/Patient')!.body;
      assert.ok(
        both.includes(OPEN) && both.includes('LS2 9JT') && both.includes(NEIGHBOUR_GP),
        'a search answering both keeps the neighbour whole',
      );
    });

    it('every route of the route table that can return patient data was read for the restricted patient, and answered', () => {
      const gets = platform.app.routeTable
        .filter((r) => r.method === 'GET')
        .map((r) => `GET ${r.url}`);
      const unread = gets.filter(
        (route) =>
          !read.has(route) &&
          !NO_PATIENT_DATA[route] &&
          !read.has(`${route} (web page)`) &&
          !read.has(`${route} (web page, general)`) &&
          !WEB_PAGES_WITHOUT_PATIENT_DATA[route],
      );
      assert.deepEqual(
        webUnmapped,
        [],
        'every web page is mapped in test/helpers/restricted-web.ts',
      );
      assert.deepEqual(
        unread,
        [],
        'each GET route is read here or listed, with a reason, as carrying no patient data',
      );
      for (const route of Object.keys(NO_PATIENT_DATA))
        assert.ok(gets.includes(route), `${route} (listed as exempt) is a real route`);
      const failed = [...read]
        .filter(([, r]) => r.status < 200 || r.status >= 300)
        .map(([route, r]) => `${route} answered ${r.status}: ${r.body.slice(0, 300)}`);
      assert.deepEqual(failed, [], 'every read answered');
      for (const [route, r] of read) {
        // a subscription list names criteria, a prescription submission answers with ids, the SCR
        // summary names the patient only in
        // the query, and PDS returns no related people of a restricted patient at all
        // e-RS's available actions, a patient's free slots and an A&G conversation name the
        // referral or request, not the patient (the conversation's release is checked below), and
        // a service search lists services (its distances are checked below)
        const aboutOthers =
          /Subscription$|Subscription\/:id$|RelatedPerson$|\$summary$/.test(route) ||
          /^GET \/referrals\/(FHIR\/STU3\/(Task|Communication)|patient\/ReferralRequest\/:ubrn\/Slot)$/.test(
            route,
          ) ||
          route.startsWith('POST /electronic-prescriptions/FHIR/R4/$process-message') ||
          route.endsWith('$ers.searchHealthcareServicesForPatient') ||
          route.endsWith('(web page, general)');
        if (!aboutOthers) {
          assert.ok(
            // a printed letter spaces the NHS Number 3 3 4
            r.body.includes(R) ||
              r.body.includes(`${R.slice(0, 3)} ${R.slice(3, 6)} ${R.slice(6)}`),
            `${route} is about the restricted patient (so the search below means something): ${r.body.slice(0, 200)}`,
          );
        }
      }
    });

    it('no answer carries their address, postcode, phone, email, GP or pharmacy', () => {
      const found = [...read].flatMap(([route, r]) =>
        leaksIn(r.body).map((what) => `${route}: ${what}`),
      );
      assert.deepEqual(found, []);
    });

    it("e-RS withholds their practice (the referrer) from printed letters and the A&G conversation, not the neighbour's", () => {
      const text = (route: string) => read.get(`${route}`)!.body;
      const REFERRALS = '/referrals/FHIR/STU3';
      assert.match(
        text(`POST ${REFERRALS}/ReferralRequest/:ubrn/$ers.generateCRI`),
        /Referring organisation \(ODS\): withheld/,
        'the clinical information PDF withholds the referring practice',
      );
      assert.match(
        text(`POST ${REFERRALS}/CommunicationRequest/:ubrn/$ers.generateCRI`),
        /Referring organisation \(ODS\): withheld/,
        'so does the A&G overview PDF',
      );
      const letter = text(`POST ${REFERRALS}/ReferralRequest/:ubrn/$ers.generatePatientLetter`);
      assert.match(letter, /Password: /, 'the patient letter was drawn');
      // a conversation never names the patient: it is released because the request read their A&G request
      const conversation = JSON.parse(text(`GET ${REFERRALS}/Communication`));
      assert.ok(conversation.total >= 1 && !JSON.stringify(conversation).includes(GP_ORG));
      assert.match(
        ers.neighbourSummary,
        new RegExp(`Referring organisation \\(ODS\\): ${GP_ORG}`),
        "the neighbour's PDF names the practice",
      );
      assert.ok(
        ers.neighbourConversation.includes(GP_ORG),
        "the neighbour's conversation names the practice",
      );
    });

    it("a service search measures no distance from their home; the neighbour's is measured", () => {
      const distances = (answer: unknown) =>
        [...JSON.stringify(answer).matchAll(/"url":"distance","valueUnsignedInt":(\d+)/g)].map(
          (m) => Number(m[1]),
        );
      const found = (answer: any) => JSON.stringify(answer).includes('"value":"11002"');
      assert.ok(found(ers.searchRestricted) && found(ers.searchNeighbour), 'both find the service');
      assert.deepEqual(distances(ers.searchRestricted), [], 'no distance from their address');
      assert.ok(distances(ers.searchNeighbour).length > 0, "the neighbour's distance is given");
    });

    it('only the signed audit export is let through whole, as a declared exception', () => {
      const routes = platform.app.routeTable;
      assert.ok(routes.some((r) => r.url === `${SECURITY}/AuditEvent/$export`));
      const exempt = routes
        .filter((r) => r.locationRelease === 'signed-audit-export' && r.method === 'GET')
        .map((r) => `${r.method} ${r.url}`);
      assert.deepEqual(
        exempt,
        [`GET ${SECURITY}/AuditEvent/$export`],
        'the audit export declares its exception, and is the only route that does',
      );
    });

    it('a bulk export withholds it; only an export named for migration, by a role granted it, includes it, audited as such', async () => {
      const exportFiles = async (token: string, query: string): Promise<string> => {
        const kick = await platform.request({
          url: `${BULK}/Patient/$export?_type=Patient,RelatedPerson${query}`,
          token,
          headers: { prefer: 'respond-async' },
        });
        assert.equal(kick.statusCode, 202, kick.body.slice(0, 300));
        const poll = new URL(String(kick.headers['content-location'])).pathname;
        for (let i = 0; i < 400; i++) {
          const status = await platform.request({ url: poll, token });
          if (status.statusCode === 200) {
            let text = '';
            for (const out of status.json().output)
              text += (await platform.request({ url: new URL(out.url).pathname, token })).body;
            return text;
          }
          assert.equal(status.statusCode, 202, status.body.slice(0, 300));
          await new Promise((r) => setTimeout(r, 25));
        }
        throw new Error('export did not finish');
      };
      const ordinary = await exportFiles(sysadmin, '');
      const line = ordinary.split('\n').find((l) => l.includes(`"id":"${R}"`));
      assert.ok(line, 'the restricted patient is exported');
      assert.ok(
        ordinary.includes(`"value":"${R}"`) && ordinary.includes('"RelatedPerson"'),
        'with their related person',
      );
      assert.deepEqual(
        leaksIn(
          ordinary
            .split('\n')
            .filter((l) => l.includes(R))
            .join('\n'),
        ),
        [],
        'no location data of theirs in the files',
      );
      assert.ok(ordinary.includes('LS2 9JT'), "the unrestricted neighbour's address is exported");

      const migration = await exportFiles(sysadmin, '&_purpose=migration');
      assert.deepEqual(
        leaksIn(
          migration
            .split('\n')
            .filter((l) => l.includes(R))
            .join('\n'),
        ).sort(),
        [
          'GP code',
          'address line',
          'contact phone',
          'email',
          'pharmacy code',
          'phone',
          'postcode',
        ].sort(),
        'a migration export carries the record whole',
      );
      const audits = (await platform.repo.audit.readAudit(0, 1_000_000))
        .map((e) => e.record)
        .filter((a) => a.action === 'bulk.export');
      assert.ok(
        audits.some(
          (a) =>
            a.outcome === 'accepted' &&
            a.purpose === 'migration' &&
            (a.detail as any)?.locationData === 'included',
        ),
        'the migration export is audited under its purpose',
      );
      assert.ok(
        audits.some((a) => a.patient === R && a.purpose === 'migration'),
        "and in the patient's own trail",
      );

      const app = await mintApplicationToken(platform.key, {
        clientId: 'export-app',
        name: 'Analytics',
        org: 'X26',
        scopes: ['bulk.export'],
        audience: platform.config.audience,
      });
      const refused = await platform.request({
        url: `${BULK}/$export?_purpose=migration`,
        token: app,
        headers: { prefer: 'respond-async' },
      });
      assert.equal(refused.statusCode, 403, refused.body.slice(0, 300));
      const bad = await platform.request({
        url: `${BULK}/$export?_purpose=research`,
        token: sysadmin,
        headers: { prefer: 'respond-async' },
      });
      assert.equal(bad.statusCode, 400, bad.body.slice(0, 300));
    });

    it('a notification delivered to a subscriber carries none of it', async () => {
      const received: string[] = [];
      const server: Server = createServer((req, res) => {
        let body = '';
        req.on('data', (c) => {
          body += c;
        });
        req.on('end', () => {
          received.push(body);
          res.end();
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      try {
        const address = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
        const subscriptionId = randomUUID();
        await platform.repo.commit({
          resources: [
            {
              type: 'Subscription',
              id: subscriptionId,
              expectedVersion: 0,
              index: [],
              resource: {
                resourceType: 'Subscription',
                id: subscriptionId,
                status: 'active',
                reason: 'test',
                criteria: `/Bundle?Patient.identifier=${NHS_SYSTEM}|${R}`,
                channel: { type: 'rest-hook', endpoint: address, payload: 'application/fhir+json' },
                extension: [
                  { url: OWNER_EXTENSION, valueIdentifier: { system: ODS, value: GP_ORG } },
                ],
              },
            },
          ],
        });
        const bundle = {
          resourceType: 'Bundle',
          id: randomUUID(),
          type: 'message',
          entry: [
            {
              resource: {
                resourceType: 'Patient',
                id: R,
                identifier: [{ system: NHS_SYSTEM, value: R }],
                address: [HOME],
                generalPractitioner: [{ identifier: { system: ODS, value: GP_ORG } }],
              },
            },
          ],
        };
        const deliverer = new NotificationDeliverer(platform.repo, platform.key, {
          timeoutMs: 5000,
        });
        const delivered = await deliverer.deliver({
          id: 1,
          attempt: 1,
          topic: 't',
          key: R,
          body: { subscriptionId, bundle, nhsNumber: R, eventId: randomUUID() },
        } as any);
        assert.equal(delivered, 'delivered');
        assert.equal(received.length, 1);
        assert.ok(received[0].includes(R), 'the delivery is about the restricted patient');
        assert.deepEqual(leaksIn(received[0]), []);
      } finally {
        server.close();
      }
    });

    it('the SUS extract gives neither postcode district nor practice for them', async () => {
      const out = new PassThrough();
      let text = '';
      out.on('data', (c) => {
        text += c;
      });
      const key = Buffer.alloc(32, 7);
      await extractSus(platform.repo, {
        since: '2000-01-01T00:00:00Z',
        format: 'ndjson',
        key,
        out,
      });
      const rows = text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      const mine = rows.find((r) => r.pseudonym === pseudonymFor(key, R));
      const neighbour = rows.find((r) => r.pseudonym === pseudonymFor(key, OPEN));
      assert.ok(mine && neighbour, 'both patients are in the extract');
      assert.equal(mine.postcode_district, null);
      assert.equal(mine.gp_practice, null);
      assert.equal(neighbour.postcode_district, 'LS2');
      assert.equal(neighbour.gp_practice, NEIGHBOUR_GP);
    });
  });
}
