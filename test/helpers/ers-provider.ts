/**
 * Test setup for the provider side of the e-Referral Service (test/referrals-triage.test.ts,
 * test/referrals-review.test.ts): a platform on one store with the published patient, the e-RS
 * services the tests refer to (written to the directory with their e-RS profiles), the callers
 * (referrer, the provider the referrals go to, another provider) and helpers to call the API and
 * check its refusals. A BOOKED referral is made by creating one through $ers.createReferral and
 * then committing its booking directly to the store (test setup data, in the booking slice's
 * model).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import type { DeliveredMessage } from '../../src/messaging/types.js';
import {
  buildHealthcareService,
  indexHealthcareService,
  type ErsProfile,
} from '../../src/services/directory/index.js';
import {
  REFERRAL_REQUEST,
  withProvider,
  type ReferralRequest,
} from '../../src/services/referrals/referral-model.js';
import { inState, referralWrite } from '../../src/services/referrals/referral-writes.js';
import {
  appointmentWrite,
  nextAppointmentId,
  participants,
  referralReference,
  withAppointment,
  type Appointment,
} from '../../src/services/referrals/appointment-model.js';
import { commitPatients, currentJane, repoRoot, withNhsNumber } from './pds-fixtures.js';
import { startTestPlatform, type TestPlatform } from './platform.js';
import type { StoreKind } from './stores.js';

export const BASE = '/referrals/FHIR/STU3';
export const REFERRER = 'A81001';
export const PROVIDER = 'R69';
export const OTHER_PROVIDER = 'RA7';
/** The patient the published examples name. */
export const PATIENT = '9912003888';
export const OBO_USER = '021600556514';
const ERS_OUTCOME = 'https://fhir.nhs.uk/STU3/StructureDefinition/eRS-OperationOutcome-1';
const ERS_CODES = 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-APIErrorCode-1';

/** The services the tests use (11004 is the triage service the published a021 request names). */
export const SERVICES = {
  triage: '11004',
  bookable: '11002',
  indirect: '11003',
  gastro: '21012',
  notTriage: '11005',
  otherTriage: '11006',
  restricted: '11007',
} as const;

const cardiology = (flow: ErsProfile['flow'], extra: Partial<ErsProfile> = {}): ErsProfile => ({
  specialty: 'CARDIOLOGY',
  clinicTypes: ['HEART_FAILURE'],
  flow,
  ...(flow === 'BOOKABLE' ? { bookable: 'DIRECTLY_BOOKABLE' as const } : {}),
  priorities: ['ROUTINE', 'URGENT', 'TWO_WEEK_WAIT'],
  adviceAndGuidance: false,
  ...extra,
});

const DIRECTORY: [string, string, string, ErsProfile][] = [
  [SERVICES.triage, PROVIDER, 'Cardiology Triage Business Service', cardiology('TRIAGE')],
  [SERVICES.bookable, PROVIDER, 'Good Cardiology Business Service', cardiology('BOOKABLE')],
  [
    SERVICES.indirect,
    PROVIDER,
    'Phone Cardiology Service',
    cardiology('BOOKABLE', { bookable: 'INDIRECTLY_BOOKABLE' }),
  ],
  [
    SERVICES.gastro,
    PROVIDER,
    'Gastroenterology Service',
    cardiology('BOOKABLE', { specialty: 'GASTROENTEROLOGY' }),
  ],
  [SERVICES.notTriage, PROVIDER, 'Bookable Only Service', cardiology('BOOKABLE')],
  [SERVICES.otherTriage, OTHER_PROVIDER, 'Other Triage Service', cardiology('TRIAGE')],
  [
    SERVICES.restricted,
    PROVIDER,
    'Restricted Triage Service',
    cardiology('TRIAGE', { restrictedTo: ['Y99999'] }),
  ],
];

export const published = (name: string): any =>
  JSON.parse(readFileSync(resolve(repoRoot, 'test/fixtures/ers/published', name), 'utf8'));

export const stateOf = (referral: any): string =>
  referral.extension
    .find((e: any) => e.url.endsWith('Extension-eRS-ReferralState-1'))
    .extension.find((e: any) => e.url === 'state').valueCoding.code;

export const stateExtension = (referral: any): any =>
  referral.extension.find((e: any) => e.url.endsWith('Extension-eRS-ReferralState-1'));

/** The eRS STU3 refusal shape, with its status and eRS error code. */
export function assertErs(
  res: LightMyRequestResponse,
  status: number,
  code: string,
  issue?: string,
): any {
  assert.equal(res.statusCode, status, res.body);
  const outcome = res.json();
  assert.equal(outcome.resourceType, 'OperationOutcome');
  assert.deepEqual(outcome.meta.profile, [ERS_OUTCOME]);
  assert.equal(outcome.issue[0].details.coding[0].system, ERS_CODES);
  assert.equal(outcome.issue[0].details.coding[0].code, code, res.body);
  if (issue) assert.equal(outcome.issue[0].code, issue);
  assert.ok(outcome.issue[0].diagnostics);
  return outcome;
}

/** A 4xx answer (never a 500), in eRS's shape when the service refused it. */
export function assert4xx(res: LightMyRequestResponse, what: string): void {
  assert.ok(
    res.statusCode >= 400 && res.statusCode < 500,
    `${what}: ${res.statusCode} ${res.body}`,
  );
}

export interface Caller {
  token: string;
  ods: string;
  businessFunction: string;
  headers?: Record<string, string>;
}

export interface ProviderPlatform {
  platform: TestPlatform;
  events: DeliveredMessage[];
  referrer: Caller;
  provider: Caller;
  providerAdmin: Caller;
  otherProvider: Caller;
  ers(
    who: Caller,
    opts: { method?: string; url: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<LightMyRequestResponse>;
  /** A referral made through $ers.createReferral (NOT_BOOKED), shortlisting `services`. */
  createReferral(services?: string[]): Promise<any>;
  /** Test setup data: the referral committed as BOOKED into `service` at its provider. */
  book(ubrn: string, service?: string): Promise<number>;
  /** The events on the outbox for a UBRN, once `count` messages on `topic` have arrived. */
  eventsFor(ubrn: string, topic: string, count?: number): Promise<DeliveredMessage[]>;
  close(): Promise<void>;
}

export async function startProviderPlatform(kind: StoreKind): Promise<ProviderPlatform> {
  const events: DeliveredMessage[] = [];
  const platform = await startTestPlatform(kind, {
    config: { rateLimit: { userPerMinute: 0, applicationPerMinute: 0 } },
    extraRoutes: (app) =>
      app.bus.consume(
        { name: 'test.ers-provider-events', topics: ['ers.referral.*'], retryDelayMs: 10 },
        async (m) => {
          events.push(m);
        },
      ),
  });
  await commitPatients(platform.repo, [withNhsNumber(currentJane(), PATIENT)]);
  await platform.repo.commit({
    resources: DIRECTORY.map(([id, org, name, ers]) => {
      const resource = buildHealthcareService({
        id,
        org,
        name,
        types: ['outpatients'],
        active: true,
        endpoints: [],
        ers,
      });
      return {
        type: 'HealthcareService',
        id,
        expectedVersion: 0,
        resource,
        index: indexHealthcareService(resource),
      };
    }),
  });
  const caller = async (role: string, ods: string, businessFunction: string, user: string) => ({
    token: await platform.token(role, { org: ods, user }),
    ods,
    businessFunction,
  });
  const referrer = await caller('R8000', REFERRER, 'REFERRING_CLINICIAN', 'referrer-gp');
  const provider = await caller('R8000', PROVIDER, 'SERVICE_PROVIDER_CLINICIAN', 'consultant');
  const providerAdmin = {
    ...(await caller('R8000', PROVIDER, 'SERVICE_PROVIDER_CLINICIAN_ADMIN', 'secretary')),
    headers: { 'nhsd-ers-on-behalf-of-user-id': OBO_USER },
  };
  const otherProvider = await caller(
    'R8000',
    OTHER_PROVIDER,
    'SERVICE_PROVIDER_CLINICIAN',
    'other-consultant',
  );

  const ers: ProviderPlatform['ers'] = (who, opts) =>
    platform.request({
      method: opts.method ?? 'GET',
      url: opts.url,
      body: opts.body,
      token: who.token,
      headers: {
        'nhsd-ers-business-function': who.businessFunction,
        'nhsd-end-user-organisation-ods': who.ods,
        ...who.headers,
        ...opts.headers,
      },
    });

  const createReferral = async (services: string[] = [SERVICES.bookable]) => {
    const body = published('createReferral-MinimalRequest.json');
    const param = (name: string) => body.parameter.find((p: any) => p.name === name);
    // the published pathway start (2024-05-01) is older than the 365 days a011 allows
    param('eReferralPathwayStart').valueInstant = new Date(Date.now() - 86_400_000).toISOString();
    param('shortlist').resource.entry = services.map((value) => ({
      item: { identifier: { system: 'http://fhir.nhs.net/Id/ers-service', value } },
    }));
    const res = await ers(referrer, {
      method: 'POST',
      url: `${BASE}/ReferralRequest/$ers.createReferral`,
      body,
    });
    assert.equal(res.statusCode, 201, res.body);
    return res.json();
  };

  const book = async (ubrn: string, service: string = SERVICES.bookable): Promise<number> => {
    // Test setup data, not the booking operation: the referral and its appointment as a booking
    // leaves them (appointment-model.ts: BOOKED, its provider recorded, its current appointment
    // `booked` at the service), committed straight to the store.
    const stored = (await platform.repo.read(REFERRAL_REQUEST, ubrn))!;
    const id = nextAppointmentId(stored.resource);
    const start = new Date(Date.now() + 7 * 86_400_000);
    const appointment: Appointment = {
      resourceType: 'Appointment',
      id,
      language: 'en',
      status: 'booked',
      description: 'e-Referral Appointment',
      start: start.toISOString(),
      end: new Date(start.getTime() + 1_800_000).toISOString(),
      created: new Date().toISOString(),
      incomingReferral: [referralReference(ubrn, stored.version + 1)],
      participant: participants({ id: service }, PATIENT),
    };
    const provider = DIRECTORY.find(([sid]) => sid === service)![1];
    const booked: ReferralRequest = withAppointment(
      withProvider(inState(stored.resource, 'BOOKED'), provider),
      id,
    );
    await platform.repo.commit({
      resources: [referralWrite(booked, stored.version), appointmentWrite(appointment, 0)],
    });
    return stored.version + 1;
  };

  const eventsFor = async (ubrn: string, topic: string, count = 1) => {
    const mine = () => events.filter((e) => (e.body as any).ubrn === ubrn);
    for (let i = 0; i < 400 && mine().filter((e) => e.topic === topic).length < count; i++)
      await new Promise((r) => setTimeout(r, 25));
    return mine();
  };

  return {
    platform,
    events,
    referrer,
    provider,
    providerAdmin,
    otherProvider,
    ers,
    createReferral,
    book,
    eventsFor,
    close: () => platform.close(),
  };
}
