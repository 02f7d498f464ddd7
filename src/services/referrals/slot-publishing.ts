/**
 * Providers publish runs of appointment slots for their directly bookable services and withdraw
 * free ones (OpenSpine's management API and CLI; e-RS takes slots from the provider's PAS, which
 * this stands in for). A run is deterministic: the same service, days, times and capacity give the
 * same slot ids, so publishing a run again (a retry, a second demo start) adds only what is missing.
 */
import { auditRecord } from '../../audit/audit-record.js';
import type { RequestContext } from '../../context.js';
import { VersionConflictError } from '../../store/errors.js';
import type { ResourceStore } from '../../store/resource-store.js';
import {
  ERS_PRIORITIES,
  ersProfileOf,
  HEALTHCARE_SERVICE,
  type ErsPriority,
} from '../directory/index.js';
import { ersError } from './ers-errors.js';
import { offeredService } from './offered-service.js';
import { newSlot, SLOT, slotFacts, slotWrite, type Slot } from './slot-model.js';

/** A run of slots: every listed time of every (week)day from `from`, `capacity` places each. */
export interface SlotRun {
  service: string;
  /** First day, YYYY-MM-DD (UTC). */
  from: string;
  days: number;
  /** Start times HH:MM (UTC). */
  times: string[];
  durationMinutes: number;
  capacity: number;
  /** Only Monday to Friday (default true). */
  weekdaysOnly: boolean;
  priorities?: ErsPriority[];
  clinician?: string;
}

export interface PublishResult {
  service: string;
  published: number;
  alreadyPublished: number;
}

const invalid = (why: string) => ersError(422, 'value', 'INVALID_VALUE', why);
const isObject = (v: unknown): v is Record<string, any> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const intIn = (v: unknown, lo: number, hi: number) =>
  typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;

const RUN_FIELDS = [
  'service',
  'from',
  'days',
  'times',
  'durationMinutes',
  'capacity',
  'weekdaysOnly',
  'priorities',
  'clinician',
];

/** A run as a management request or the CLI gives it (422 INVALID_VALUE naming the field). */
export function parseSlotRun(body: unknown): SlotRun {
  if (!isObject(body)) throw invalid('the body must be a JSON object describing the run of slots');
  for (const k of Object.keys(body))
    if (!RUN_FIELDS.includes(k)) throw invalid(`'${k.slice(0, 40)}' is not expected`);
  const {
    service,
    from,
    days,
    times,
    durationMinutes,
    capacity = 1,
    weekdaysOnly = true,
    priorities,
    clinician,
  } = body;
  if (typeof service !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(service))
    throw invalid("'service' must be a service id");
  if (
    typeof from !== 'string' ||
    !/^\d{4}-\d{2}-\d{2}$/.test(from) ||
    !Number.isFinite(Date.parse(`${from}T00:00:00Z`))
  )
    throw invalid("'from' must be a date YYYY-MM-DD");
  if (!intIn(days, 1, 92)) throw invalid("'days' must be a whole number from 1 to 92");
  if (!Array.isArray(times) || times.length < 1 || times.length > 96)
    throw invalid("'times' must list 1 to 96 start times HH:MM");
  for (const t of times)
    if (typeof t !== 'string' || !/^([01]\d|2[0-3]):[0-5]\d$/.test(t))
      throw invalid(`'times' holds '${String(t).slice(0, 10)}', not HH:MM`);
  if (new Set(times).size !== times.length) throw invalid("'times' lists a time twice");
  if (!intIn(durationMinutes, 5, 480))
    throw invalid("'durationMinutes' must be a whole number from 5 to 480");
  if (!intIn(capacity, 1, 50)) throw invalid("'capacity' must be a whole number from 1 to 50");
  if (typeof weekdaysOnly !== 'boolean') throw invalid("'weekdaysOnly' must be true or false");
  if (
    priorities !== undefined &&
    (!Array.isArray(priorities) ||
      priorities.length === 0 ||
      !priorities.every((p) => (ERS_PRIORITIES as readonly unknown[]).includes(p)))
  )
    throw invalid(`'priorities' must list some of ${ERS_PRIORITIES.join(', ')}`);
  if (
    clinician !== undefined &&
    (typeof clinician !== 'string' || !/^[0-9]{1,20}$/.test(clinician))
  )
    throw invalid("'clinician' must be an SDS user ID");
  return {
    service,
    from,
    days,
    times,
    durationMinutes,
    capacity,
    weekdaysOnly,
    ...(priorities ? { priorities } : {}),
    ...(clinician ? { clinician } : {}),
  };
}

/** The slots a run makes (pure). */
export function slotsOfRun(
  run: SlotRun,
  provider: string,
  servicePriorities: ErsPriority[],
): Slot[] {
  const priorities =
    run.priorities ?? (servicePriorities.length ? servicePriorities : ['ROUTINE' as const]);
  const facts = {
    service: run.service,
    provider,
    priorities,
    ...(run.clinician ? { clinician: run.clinician } : {}),
  };
  const slots: Slot[] = [];
  const first = Date.parse(`${run.from}T00:00:00Z`);
  for (let d = 0; d < run.days; d++) {
    const day = new Date(first + d * 86_400_000);
    if (run.weekdaysOnly && (day.getUTCDay() === 0 || day.getUTCDay() === 6)) continue;
    for (const t of run.times) {
      const start = new Date(`${day.toISOString().slice(0, 10)}T${t}:00Z`);
      for (let place = 1; place <= run.capacity; place++)
        slots.push(newSlot(facts, start, run.durationMinutes, place));
    }
  }
  return slots;
}

/** Most slots one commit writes (a run larger than this is committed in parts). */
const BATCH = 500;

/**
 * Publishes a run for the service; `org`, when given, must be the service's provider (403
 * NO_ACCESS). Slots already published are left as they are (booked ones stay booked).
 */
export async function publishSlots(
  store: ResourceStore,
  run: SlotRun,
  opts: { org?: string; ctx?: RequestContext } = {},
): Promise<PublishResult> {
  const offered = await offeredService(store, run.service, 422);
  if (opts.org !== undefined && offered.provider !== opts.org)
    throw ersError(
      403,
      'forbidden',
      'NO_ACCESS',
      `Service ${run.service} is not provided by ${opts.org}`,
    );
  if (offered.profile.bookable !== 'DIRECTLY_BOOKABLE')
    throw ersError(
      422,
      'business-rule',
      'INAPPROPRIATE_VALUE',
      `Service ${run.service} is not directly bookable`,
    );
  const all = slotsOfRun(run, offered.provider, offered.profile.priorities);
  let published = 0;
  for (let i = 0; i < all.length; i += BATCH) {
    const part = all.slice(i, i + BATCH);
    for (let attempt = 0; ; attempt++) {
      const held = new Set(
        (
          await store.readMany(
            SLOT,
            part.map((s) => s.id),
          )
        ).map((s) => s.id),
      );
      const fresh = part.filter((s) => !held.has(s.id));
      if (!fresh.length) break;
      try {
        await store.commit({
          resources: fresh.map((s) => ({ ...slotWrite(s, 0, 'free') })),
          ...(opts.ctx
            ? {
                audit: [
                  auditRecord(
                    opts.ctx,
                    'ers.slot.publish',
                    null,
                    'success',
                    { service: run.service, slots: fresh.length, first: fresh[0].id },
                    { type: 'directory' },
                  ),
                ],
              }
            : {}),
        });
        published += fresh.length;
        break;
      } catch (err) {
        // a concurrent publish of the same run wrote some of them first: read again
        if (!(err instanceof VersionConflictError) || attempt >= 3) throw err;
      }
    }
  }
  return { service: run.service, published, alreadyPublished: all.length - published };
}

/** Withdraws a free slot of the caller's organisation (a booked one must be cancelled first). */
export async function withdrawSlot(
  store: ResourceStore,
  id: string,
  opts: { org?: string; ctx?: RequestContext } = {},
) {
  const stored = await store.read(SLOT, id);
  if (!stored) throw ersError(404, 'not-found', 'REC_NOT_FOUND', `No slot with id ${id}`);
  const facts = slotFacts(stored.resource);
  if (opts.org !== undefined && facts.provider !== opts.org)
    throw ersError(403, 'forbidden', 'NO_ACCESS', `Slot ${id} is not ${opts.org}'s`);
  if (stored.resource.status === 'busy-unavailable') return stored;
  if (stored.resource.status !== 'free')
    throw ersError(
      422,
      'business-rule',
      'INVALID_STATE',
      `Slot ${id} is booked; cancel its appointment first`,
    );
  try {
    const [saved] = await store.commit({
      resources: [slotWrite(stored.resource, stored.version, 'busy-unavailable')],
      ...(opts.ctx
        ? {
            audit: [
              auditRecord(
                opts.ctx,
                'ers.slot.withdraw',
                null,
                'success',
                { slot: id, service: facts.service },
                { type: 'directory' },
              ),
            ],
          }
        : {}),
    });
    return saved;
  } catch (err) {
    if (err instanceof VersionConflictError)
      throw ersError(
        422,
        'business-rule',
        'INVALID_STATE',
        `Slot ${id} changed meanwhile (booked?); read it again`,
      );
    throw err;
  }
}

/** The demo's clinic times: mornings and afternoons, half-hour appointments. */
const DEMO_TIMES = [
  '09:00',
  '09:30',
  '10:00',
  '10:30',
  '11:00',
  '14:00',
  '14:30',
  '15:00',
  '15:30',
];
export const DEMO_SLOT_DAYS = 28;

/**
 * On a demo start: four weeks of weekday slots from tomorrow for every directly bookable e-RS
 * service in the store. Deterministic and idempotent (a second start adds only the new days).
 */
export async function publishDemoSlots(store: ResourceStore, now = new Date()): Promise<number> {
  const ids = await store.search({
    type: HEALTHCARE_SERVICE,
    criteria: [{ any: [{ param: 'ers-flow', op: 'eq', value: 'BOOKABLE' }] }],
    limit: 10_000,
  });
  const from = new Date(now.getTime() + 86_400_000).toISOString().slice(0, 10);
  let published = 0;
  for (const s of await store.readMany(HEALTHCARE_SERVICE, ids)) {
    const profile = ersProfileOf(s.resource);
    if (s.resource.active === false || profile?.bookable !== 'DIRECTLY_BOOKABLE') continue;
    const run: SlotRun = {
      service: s.id,
      from,
      days: DEMO_SLOT_DAYS,
      times: DEMO_TIMES,
      durationMinutes: 30,
      capacity: 1,
      weekdaysOnly: true,
    };
    published += (await publishSlots(store, run)).published;
  }
  return published;
}
