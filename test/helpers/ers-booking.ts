/**
 * For the e-RS booking tests: the e-RS services the published booking examples name, written
 * straight into a store, and the published request bodies with the test's referral, version, slot
 * and patient put in (each test changes its own copy in memory).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  buildHealthcareService,
  indexHealthcareService,
  type ErsProfile,
} from '../../src/services/directory/index.js';
import type { ResourceStore } from '../../src/store/resource-store.js';
import { repoRoot } from './pds-fixtures.js';

export const REFERRER = 'A81001';
export const PROVIDER = 'RXH01';
export const OTHER_PROVIDER = 'RYJ01';
/** The patient the published examples name. */
export const PUBLISHED_PATIENT = '9912003888';

export const published = (name: string): any =>
  JSON.parse(readFileSync(resolve(repoRoot, 'test/fixtures/ers/published', name), 'utf8'));

const dbs: ErsProfile = {
  specialty: 'CARDIOLOGY',
  clinicTypes: ['HEART_FAILURE'],
  flow: 'BOOKABLE',
  bookable: 'DIRECTLY_BOOKABLE',
  priorities: ['ROUTINE', 'URGENT'],
  adviceAndGuidance: false,
};

/** id -> [provider, profile]: the published examples' services (11000 books, 11021 defers, 50001 triages). */
export const SERVICES: Record<string, [string, ErsProfile, string]> = {
  '11000': [PROVIDER, dbs, 'Forthright Cardiology Business Service'],
  '11008': [PROVIDER, dbs, 'Named Clinician Cardiology'],
  '11021': [PROVIDER, dbs, 'Cardiology Business Service'],
  '11030': [PROVIDER, { ...dbs, bookable: 'INDIRECTLY_BOOKABLE' }, 'Phone Us Cardiology'],
  '12000': [OTHER_PROVIDER, dbs, 'Other Trust Cardiology'],
  '50001': [PROVIDER, { ...dbs, flow: 'TRIAGE', bookable: undefined }, 'Cardiology Triage Service'],
};

/** Writes directly bookable (or the given) e-RS services into the store. */
export async function addErsServices(
  store: ResourceStore,
  services: Record<string, [string, ErsProfile, string]> = SERVICES,
): Promise<void> {
  await store.commit({
    resources: Object.entries(services).map(([id, [org, ers, name]]) => {
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
}

/** A directly bookable cardiology service's profile. */
export const DBS_PROFILE = dbs;

/** The published createReferral example shortlisting `services` (priority URGENT, as published). */
export function createBody(services: string[] = Object.keys(SERVICES), nhs = PUBLISHED_PATIENT) {
  const body = published('createReferral-MinimalRequest.json');
  const param = (name: string) => body.parameter.find((p: any) => p.name === name);
  param('eReferralPathwayStart').valueInstant = new Date(Date.now() - 86_400_000).toISOString();
  param('patient').valueIdentifier.value = nhs;
  param('shortlist').resource.entry = services.map((value) => ({
    item: { identifier: { system: 'http://fhir.nhs.net/Id/ers-service', value } },
  }));
  return body;
}

/** A published a016 request for this referral at `version` (and `slot`, when it books one). */
export function appointmentBody(
  fixture: string,
  ubrn: string,
  version: number,
  opts: { slot?: string; service?: string; nhs?: string } = {},
): any {
  const body = published(`bookOrDeferAppointment-${fixture}.json`);
  body.incomingReferral[0].reference = `ReferralRequest/${ubrn}/_history/${version}`;
  if (opts.slot) body.slot = [{ reference: `Slot/${opts.slot}` }];
  for (const p of body.participant) {
    const id = p.actor.identifier;
    if (id.system.endsWith('nhs-number')) id.value = opts.nhs ?? PUBLISHED_PATIENT;
    if (id.system.endsWith('ers-service') && opts.service) id.value = opts.service;
  }
  return body;
}

/** A run of slots from tomorrow (UTC), weekdays or not. */
export function slotRun(service: string, extra: Record<string, unknown> = {}) {
  return {
    service,
    from: new Date(Date.now() + 86_400_000).toISOString().slice(0, 10),
    days: 2,
    times: ['09:00', '10:00', '11:00'],
    durationMinutes: 30,
    weekdaysOnly: false,
    ...extra,
  };
}
