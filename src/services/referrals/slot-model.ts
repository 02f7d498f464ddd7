/**
 * Appointment slots of directly bookable e-RS services: the STU3 Slot as e-RS publishes it
 * (NHSDigital/e-referrals-service-api AppointmentSlotBundle.yaml, CareConnect-Slot-1) with
 * OpenSpine's own facts about it (service, provider, priorities, named clinician) in one internal
 * extension the views remove. Schedules are not stored: a Slot's schedule is its service, or its
 * service and named clinician, so the Schedule an answer includes is derived from the slot.
 *
 * Capacity is exact: a slot is one bookable place. Booking writes the slot `busy` at the version it
 * was read at, in the same commit as the referral and its Appointment, so of two bookings racing
 * for one slot the store lets exactly one commit (VersionConflictError for the other).
 */
import { resourceType, type IndexEntry } from '../../store/resource-store.js';
import type { ErsPriority } from '../directory/index.js';

export const SLOT_PROFILE = 'https://fhir.hl7.org.uk/STU3/StructureDefinition/CareConnect-Slot-1';
export const SCHEDULE_PROFILE =
  'https://fhir.hl7.org.uk/STU3/StructureDefinition/CareConnect-Schedule-1';
export const ALTERNATIVE_SLOT_SYSTEM = 'https://fhir.nhs.uk/Id/alternative-slot';
export const ERS_SCHEDULE_SYSTEM = 'https://fhir.nhs.uk/Id/ers-schedule';
export const SDS_USER_SYSTEM = 'http://fhir.nhs.net/Id/sds-user-id';
/** OpenSpine's record of whose slot it is; slotView removes it. */
export const SLOT_FACTS_URL = 'https://openspine.dev/STU3/Extension-eRS-SlotFacts';

/** free: bookable; busy: booked; busy-unavailable: withdrawn by the provider. */
export type SlotStatus = 'free' | 'busy' | 'busy-unavailable';

export interface Slot {
  resourceType: 'Slot';
  id: string;
  meta?: { versionId?: string; lastUpdated?: string; profile?: string[] };
  identifier: { system: string; value: string }[];
  schedule: { reference: string };
  status: SlotStatus;
  start: string;
  end: string;
  extension: { url: string; extension: { url: string; valueString: string }[] }[];
}

export const SLOT = resourceType<Slot>('Slot');

/** Whose slot it is. */
export interface SlotFacts {
  /** The directory HealthcareService id (the e-RS service id). */
  service: string;
  /** ODS code of the organisation providing the service. */
  provider: string;
  priorities: ErsPriority[];
  /** SDS user id of the named clinician, when the slot has one. */
  clinician?: string;
}

/** A slot's id: its service, its start (yyyyMMddHHmm, UTC) and its place; sorts by start within a service. */
export function slotId(facts: SlotFacts, start: Date, place: number): string {
  const stamp = start.toISOString().replace(/[-:T]/g, '').slice(0, 12);
  return `${facts.service}-${stamp}-${place}${facts.clinician ? `c${facts.clinician}` : ''}`;
}

/** The start stamp (yyyyMMddHHmm) an id carries (see slotId), or undefined for another id. */
export function startStampOf(id: string): string | undefined {
  return /-(\d{12})-\d+(?:c\d+)?$/.exec(id)?.[1];
}

/** The stamp of an instant, comparable with startStampOf. */
export const stampOf = (t: Date): string => t.toISOString().replace(/[-:T]/g, '').slice(0, 12);

export const scheduleIdOf = (f: Pick<SlotFacts, 'service' | 'clinician'>) =>
  f.clinician ? `${f.service}-${f.clinician}` : f.service;

export function newSlot(facts: SlotFacts, start: Date, minutes: number, place: number): Slot {
  const id = slotId(facts, start, place);
  const facet = (url: string, valueString: string) => ({ url, valueString });
  return {
    resourceType: 'Slot',
    id,
    identifier: [{ system: ALTERNATIVE_SLOT_SYSTEM, value: `USRN-${id}` }],
    schedule: { reference: `Schedule/${scheduleIdOf(facts)}` },
    status: 'free',
    start: start.toISOString(),
    end: new Date(start.getTime() + minutes * 60_000).toISOString(),
    extension: [
      {
        url: SLOT_FACTS_URL,
        extension: [
          facet('service', facts.service),
          facet('provider', facts.provider),
          ...facts.priorities.map((p) => facet('priority', p)),
          ...(facts.clinician ? [facet('clinician', facts.clinician)] : []),
        ],
      },
    ],
  };
}

export function slotFacts(slot: Slot): SlotFacts {
  const parts = slot.extension.find((e) => e.url === SLOT_FACTS_URL)?.extension ?? [];
  const one = (url: string) => parts.find((p) => p.url === url)?.valueString;
  const clinician = one('clinician');
  return {
    service: one('service') ?? '',
    provider: one('provider') ?? '',
    priorities: parts.filter((p) => p.url === 'priority').map((p) => p.valueString as ErsPriority),
    ...(clinician ? { clinician } : {}),
  };
}

/**
 * The index parameter of free slots: `free` for all of a service's, `free-clinician` for a named
 * clinician's (a parameter of its own, so a prefix of one never matches rows of the other).
 */
export const freeParam = (clinician?: string) => (clinician ? 'free-clinician' : 'free');

/** The free-slot key a015 searches by prefix: service, priority (and clinician), then start. */
export const freeKey = (service: string, priority: string, clinician?: string) =>
  clinician ? `${service}|${priority}|${clinician}|` : `${service}|${priority}|`;

/**
 * A slot's index: its service and provider always; while free, one `free` row per priority (and
 * one per priority with its clinician), so a015 is one prefix range of the service's free slots.
 */
export function slotIndex(slot: Slot): IndexEntry[] {
  const f = slotFacts(slot);
  const rows: IndexEntry[] = [
    { param: 'service', value: f.service },
    { param: 'provider', value: f.provider },
    { param: 'status', value: slot.status },
  ];
  if (slot.status === 'free')
    for (const p of f.priorities) {
      rows.push({ param: 'free', value: freeKey(f.service, p) + slot.start });
      if (f.clinician)
        rows.push({
          param: freeParam(f.clinician),
          value: freeKey(f.service, p, f.clinician) + slot.start,
        });
    }
  return rows;
}

/** The slot written in `status` at the version it was read at (a booking, a release, a withdrawal). */
export function slotWrite(slot: Slot, version: number, status: SlotStatus) {
  const next: Slot = { ...slot, status };
  return {
    type: SLOT,
    id: slot.id,
    expectedVersion: version,
    resource: next,
    index: slotIndex(next),
  };
}

/** Slot ids in a path or reference: what slotId makes, and the published numeric ids. */
export const SLOT_ID_PATTERN = /^[A-Za-z0-9._-]{1,100}$/;
