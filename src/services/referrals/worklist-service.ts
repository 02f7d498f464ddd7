/**
 * The referral worklists ($ers.fetchworklist, a008): the referrals of the caller's organisation, on
 * its side (the providers they were sent to, or the referrer), in the states the list holds. Served
 * from the store's index (`provider` / `referrer` and `state` rows of referralIndex), never a scan;
 * their current appointments and the services they are at are read in one batch each. Every referral listed is a
 * read of its patient's data, audited as ers.worklist.read.
 */
import type { HealthcareService } from 'fhir/r4.js';
import { auditRecord } from '../../audit/audit-record.js';
import type { AuditWriter } from '../../audit/audit-writer.js';
import type { RequestContext } from '../../context.js';
import type { ResourceStore, StoredResource } from '../../store/resource-store.js';
import { ersProfileOf, HEALTHCARE_SERVICE } from '../directory/index.js';
import { APPOINTMENT, appointmentIdOf, type Appointment } from './appointment-model.js';
import { ersError } from './ers-errors.js';
import { patientOf, REFERRAL_REQUEST, type ReferralRequest } from './referral-model.js';
import type { ErsCaller } from './referral-rules.js';
import {
  MAX_WORKLIST,
  parseFetchWorklist,
  servicesOf,
  type Worklist,
  type WorklistFilters,
} from './worklist-rules.js';

export interface WorklistEntry {
  stored: StoredResource<ReferralRequest>;
  /** The e-RS service the referral is at for this list, and the directory's record of it. */
  serviceId?: string;
  service?: HealthcareService;
  /** Its current appointment, when it has one. */
  appointment?: Appointment;
}

export interface WorklistAnswer {
  listType: string;
  worklist: Worklist;
  entries: WorklistEntry[];
}

const providerOf = (s: HealthcareService | undefined) => s?.providedBy?.identifier?.value;

export class WorklistService {
  constructor(
    readonly store: ResourceStore,
    readonly audit: AuditWriter,
  ) {}

  async fetch(ctx: RequestContext, caller: ErsCaller, body: unknown): Promise<WorklistAnswer> {
    const { listType, worklist, filters } = parseFetchWorklist(body);
    const side = caller.businessFunction.startsWith('SERVICE_PROVIDER_') ? 'provider' : 'referrer';
    if (side !== worklist.side)
      throw ersError(
        403,
        'forbidden',
        'NO_ACCESS',
        `The ${listType} worklist is for ${worklist.side === 'provider' ? 'service provider' : 'referring'} organisations`,
      );
    const found = await this.store.searchResources({
      type: REFERRAL_REQUEST,
      criteria: [
        { any: [{ param: side, op: 'eq', value: caller.ods }] },
        { any: worklist.states.map((value) => ({ param: 'state', op: 'eq' as const, value })) },
      ],
      limit: MAX_WORKLIST + 1,
    });
    if (found.length > MAX_WORKLIST)
      throw ersError(
        422,
        'too-costly',
        'TOO_MANY_ITEMS',
        `The ${listType} worklist holds more than ${MAX_WORKLIST} referrals; narrow it with the 'service' filter`,
      );
    // the referrals' current appointments and the services they name, one batched read each
    const appointmentIds = found.flatMap((s) => appointmentIdOf(s.resource) ?? []);
    const appointments = new Map(
      (await this.store.readMany(APPOINTMENT, appointmentIds)).map((a) => [a.id, a.resource]),
    );
    const named = new Map(
      found.map((s) => {
        const id = appointmentIdOf(s.resource);
        return [s.id, servicesOf(s.resource, id ? appointments.get(id) : undefined)];
      }),
    );
    const ids = [...new Set([...named.values()].flat())];
    const directory = new Map(
      (await this.store.readMany(HEALTHCARE_SERVICE, ids)).map((s) => [s.id, s.resource]),
    );
    const entries = found
      .map((stored): WorklistEntry => {
        const services = named.get(stored.id) ?? [];
        // a provider sees the referral at its own service; a referrer at the one it was sent to
        const serviceId =
          side === 'provider'
            ? services.find((id) => providerOf(directory.get(id)) === caller.ods)
            : services[0];
        const appointmentId = appointmentIdOf(stored.resource);
        return {
          stored,
          serviceId,
          service: serviceId ? directory.get(serviceId) : undefined,
          appointment: appointmentId ? appointments.get(appointmentId) : undefined,
        };
      })
      .filter((entry) => matches(entry, filters));
    await this.audit.append(
      ...(entries.length
        ? entries.map((e) =>
            auditRecord(ctx, 'ers.worklist.read', patientOf(e.stored.resource), 'success', {
              ubrn: e.stored.id,
              listType,
              businessFunction: caller.businessFunction,
            }),
          )
        : [auditRecord(ctx, 'ers.worklist.read', null, 'success', { listType, referrals: 0 })]),
    );
    return { listType, worklist, entries };
  }
}

function matches(entry: WorklistEntry, filters: WorklistFilters): boolean {
  if (filters.service !== undefined && entry.serviceId !== filters.service) return false;
  if (filters.location !== undefined && providerOf(entry.service) !== filters.location)
    return false;
  if (filters.specialty !== undefined) {
    const specialty = entry.service ? ersProfileOf(entry.service)?.specialty : undefined;
    if ((specialty ?? null) !== filters.specialty) return false;
  }
  // OpenSpine allocates no clinician to a referral: NOT_ASSIGNED is every referral, a named one none
  if (typeof filters.clinician === 'string') return false;
  return true;
}
