/**
 * What booking callers see: a015's searchset of Slots with their Schedules (AppointmentSlotBundle.yaml,
 * sandbox retrieveAppointmentSlots/responses/*.json) and the Appointment with its version in meta.
 */
import { randomUUID } from 'node:crypto';
import type { StoredResource } from '../../store/resource-store.js';
import { APPOINTMENT_PROFILES, type Appointment } from './appointment-model.js';
import { ERS_SERVICE_SYSTEM } from './referral-model.js';
import type { SlotQuery } from './booking-rules.js';
import {
  ERS_SCHEDULE_SYSTEM,
  SCHEDULE_PROFILE,
  scheduleIdOf,
  SDS_USER_SYSTEM,
  SLOT_PROFILE,
  slotFacts,
  type Slot,
} from './slot-model.js';

/** A slot as e-RS answers it (OpenSpine's facts removed). */
export function slotView(slot: Slot) {
  return {
    id: slot.id,
    meta: { profile: [SLOT_PROFILE] },
    resourceType: 'Slot',
    identifier: slot.identifier,
    schedule: slot.schedule,
    status: slot.status,
    start: slot.start,
    end: slot.end,
  };
}

/** The Schedule a slot belongs to: its service, and its named clinician when it has one. */
export function scheduleView(slot: Slot) {
  const f = slotFacts(slot);
  const id = scheduleIdOf(f);
  return {
    id,
    meta: { profile: [SCHEDULE_PROFILE] },
    resourceType: 'Schedule',
    identifier: [{ system: ERS_SCHEDULE_SYSTEM, value: id }],
    actor: [
      { identifier: { system: ERS_SERVICE_SYSTEM, value: f.service } },
      ...(f.clinician ? [{ identifier: { system: SDS_USER_SYSTEM, value: f.clinician } }] : []),
    ],
  };
}

/** The a015 link for `page`, in the published parameter order. */
function pageUrl(baseUrl: string, q: SlotQuery, page: number): string {
  const e = encodeURIComponent;
  const clinician = q.clinician ? `schedule.actor%3APractitioner=${e(q.clinician)}&` : '';
  return (
    `${baseUrl}/Slot?${clinician}schedule.actor%3AHealthcareService=${e(q.service)}` +
    `&appointmentType=${q.priority}&_count=${q.count}&status=free&_include=Slot%3Aschedule&page=${page}`
  );
}

/**
 * a015's searchset: one page of slots, then the schedules they name (a Schedule for every Slot).
 * `linkTo` gives a page's URL (the patient's slot search links to its own route).
 */
export function slotBundle(
  baseUrl: string,
  q: Pick<SlotQuery, 'page' | 'count'> & Partial<SlotQuery>,
  slots: Slot[],
  total: number,
  linkTo: (page: number) => string = (page) => pageUrl(baseUrl, q as SlotQuery, page),
) {
  const pages = Math.max(1, Math.ceil(total / q.count));
  const link = [{ relation: 'self', url: linkTo(q.page) }];
  if (q.page > 1) link.push({ relation: 'previous', url: linkTo(q.page - 1) });
  if (q.page < pages) link.push({ relation: 'next', url: linkTo(q.page + 1) });
  const schedules = new Map(slots.map((s) => [s.schedule.reference, s]));
  return {
    id: randomUUID(),
    meta: {
      lastUpdated: new Date().toISOString(),
      profile: ['http://hl7.org/fhir/STU3/StructureDefinition/Bundle'],
    },
    resourceType: 'Bundle',
    type: 'searchset',
    total,
    link,
    entry: [
      ...slots.map((s) => ({
        fullUrl: `${baseUrl}/Slot/${s.id}`,
        resource: slotView(s),
        search: { mode: 'match' },
      })),
      ...[...schedules.values()].map((s) => ({
        fullUrl: `${baseUrl}/${s.schedule.reference}`,
        resource: scheduleView(s),
        search: { mode: 'include' },
      })),
    ],
  };
}

/** An appointment as e-RS answers it: its version and profiles in meta. */
export function appointmentView(stored: StoredResource<Appointment>): Appointment {
  const a = stored.resource;
  return { ...a, meta: { versionId: String(stored.version), profile: APPOINTMENT_PROFILES } };
}
