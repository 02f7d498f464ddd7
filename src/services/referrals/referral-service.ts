/**
 * The e-Referral use cases: create ($ers.createReferral, a011), read by UBRN (a005) and by version
 * (a005-versioned), cancel ($ers.cancelReferral, a036). Writes go through writeOnce (X-Request-ID
 * replay) and commit the referral, its audit record and its outbox message together; reads are
 * audited through the process's AuditWriter. A referral is read by the organisation that made it
 * and the providers it was sent to, and cancelled by the organisation that made it. A new referral's
 * UBRN is drawn by commitNewReferral, which a021 (triage-service.ts) shares.
 */
import { auditRecord } from '../../audit/audit-record.js';
import type { AuditWriter } from '../../audit/audit-writer.js';
import type { HealthcareService } from 'fhir/r4.js';
import type { RequestContext } from '../../context.js';
import { VersionConflictError } from '../../store/errors.js';
import type { ResourceStore, ResourceWrite, StoredResource } from '../../store/resource-store.js';
import { HEALTHCARE_SERVICE } from '../directory/index.js';
import { requireCurrentPatient } from '../pds/index.js';
import { writeOnce, type EarlierAnswer, type WriteRequest } from '../write-once.js';
import { releaseAppointmentWrites } from './appointment-changes.js';
import { ersError } from './ers-errors.js';
import { ERS_REFERRAL_CANCELLED, ERS_REFERRAL_CREATED } from './event-topics.js';
import { visibleReferral, type ReferralParty } from './referral-access.js';
import { referralMessage } from './referral-events.js';
import {
  COMMISSIONING_ORG_URL,
  drawUbrn,
  ERS_PROFILE,
  NHS_NUMBER_SYSTEM_STU3,
  ODS_SYSTEM_STU3,
  patientOf,
  PATHWAY_START_URL,
  PRIORITY_URL,
  REFERRAL_REQUEST,
  REFERRER_ORG_URL,
  SHORTLIST_URL,
  stateExtension,
  stateOf,
  ubrnReservation,
  type Extension,
  type ReferralRequest,
} from './referral-model.js';
import {
  parseCancelReferral,
  PROVIDER_FUNCTIONS,
  providerReasonFits,
  parseCreateReferral,
  type CreateReferralRequest,
  type ErsCaller,
} from './referral-rules.js';
import { checkShortlistable } from './service-search-rules.js';
import { changeReferral, inState, referralWrite } from './referral-writes.js';

/** How many UBRNs a create draws before giving up (a clash is one in a million until the space fills). */
const UBRN_ATTEMPTS = 50;

const asBefore = ({ stored }: EarlierAnswer<ReferralRequest>) => stored;
/** Who reads a referral (a005): its referrer and the providers it was sent to; only the referrer cancels. */
const READERS: readonly ReferralParty[] = ['referrer', 'provider'];

export class ReferralService {
  constructor(
    readonly store: ResourceStore,
    readonly audit: AuditWriter,
    readonly now: () => Date = () => new Date(),
  ) {}

  /** $ers.createReferral: a new referral in state NOT_BOOKED under a UBRN never used before. */
  create(
    ctx: RequestContext,
    caller: ErsCaller,
    body: unknown,
  ): Promise<StoredResource<ReferralRequest>> {
    return createReferral(this, ctx, caller, {
      parse: () => parseCreateReferral(body, this.now()),
      plan: (request, services) => ({
        build: (ubrn) => newReferral(ubrn, request, caller.ods, serviceNames(services)),
        topics: [ERS_REFERRAL_CREATED],
      }),
    });
  }

  /** a005: the current version of a referral the caller's organisation may see. */
  async read(
    ctx: RequestContext,
    caller: ErsCaller,
    ubrn: string,
  ): Promise<StoredResource<ReferralRequest>> {
    const stored = await this.visible(ctx, caller, ubrn, 'ers.referral.read', READERS);
    await this.audit.append(
      auditRecord(ctx, 'ers.referral.read', patientOf(stored.resource), 'success', {
        ubrn,
        version: stored.version,
      }),
    );
    return stored;
  }

  /** a005-versioned: one version of a referral the caller's organisation may see. */
  async readVersion(
    ctx: RequestContext,
    caller: ErsCaller,
    ubrn: string,
    version: number,
  ): Promise<StoredResource<ReferralRequest>> {
    await this.visible(ctx, caller, ubrn, 'ers.referral.read', READERS);
    const stored = await this.store.readVersion(REFERRAL_REQUEST, ubrn, version);
    if (!stored)
      throw ersError(
        404,
        'not-found',
        'REC_NOT_FOUND',
        `Referral ${ubrn} has no version ${version}`,
      );
    await this.audit.append(
      auditRecord(ctx, 'ers.referral.read', patientOf(stored.resource), 'success', {
        ubrn,
        version,
      }),
    );
    return stored;
  }

  /** $ers.cancelReferral: any live state to CANCELLED_REFERRAL, at the version the caller last read. */
  cancel(
    ctx: RequestContext,
    caller: ErsCaller,
    ubrn: string,
    ifMatch: number,
    body: unknown,
  ): Promise<StoredResource<ReferralRequest>> {
    // a provider function cancels only a referral sent to it, and with the provider's reasons
    const asProvider = PROVIDER_FUNCTIONS.includes(caller.businessFunction);
    return changeReferral(this, ctx, {
      ubrn,
      viewer: { ods: caller.ods },
      parties: [asProvider ? 'provider' : 'referrer'],
      action: 'ers.referral.cancel',
      ifMatch,
      parse: () => parseCancelReferral(body, caller.businessFunction),
      transition: 'cancel',
      plan: async (stored, request, next) => {
        const awaitingTriage = stateOf(stored.resource) === 'AWAITING_TRIAGE';
        if (asProvider && !providerReasonFits(request.reason.code, awaitingTriage))
          throw ersError(
            422,
            'business-rule',
            'INAPPROPRIATE_VALUE',
            `'cancellationReason' ${request.reason.code} is not a reason for cancelling a referral ${awaitingTriage ? 'awaiting triage' : 'that is not awaiting triage'}`,
          );
        return {
          next: { ...inState(stored.resource, next, request), status: 'cancelled' },
          detail: { ubrn, reason: request.reason.code, businessFunction: caller.businessFunction },
          topic: ERS_REFERRAL_CANCELLED,
          reason: request.reason.code,
          // a booked appointment goes with the referral: cancelled, its slot free again
          with: await releaseAppointmentWrites(this.store, stored.resource, stored.version + 1),
        };
      },
    });
  }

  /** The referral, when the caller's organisation is one of `parties` of it (referral-access.ts). */
  private visible(
    ctx: RequestContext,
    caller: ErsCaller,
    ubrn: string,
    action: string,
    parties: readonly ReferralParty[] = ['referrer'],
  ) {
    return visibleReferral(this, ctx, { ods: caller.ods }, ubrn, action, parties);
  }
}

/**
 * The shortlisted services by id: each must be a HealthcareService of the directory (422
 * REFERENCE_NOT_FOUND) that is active (422 INAPPROPRIATE_VALUE), offered on e-RS and open to the
 * referring organisation (checkShortlistable).
 */
export async function shortlistedServices(
  store: ResourceStore,
  ids: string[],
  referrer?: string,
): Promise<Map<string, HealthcareService>> {
  const found = new Map(
    (await store.readMany(HEALTHCARE_SERVICE, ids)).map((s) => [s.id, s.resource]),
  );
  const services = new Map<string, HealthcareService>();
  for (const id of ids) {
    const service = found.get(id);
    if (!service)
      throw ersError(
        422,
        'not-found',
        'REFERENCE_NOT_FOUND',
        `Service ${id} is not in the directory`,
      );
    if (service.active === false)
      throw ersError(422, 'business-rule', 'INAPPROPRIATE_VALUE', `Service ${id} is not active`);
    checkShortlistable(id, service, referrer);
    services.set(id, service);
  }
  return services;
}

/** The services' names by id, as the directory names them (ids stand in for unnamed ones). */
export const serviceNames = (services: Map<string, HealthcareService>): Map<string, string> =>
  new Map([...services].map(([id, s]) => [id, s.name ?? id]));

/** A create's request parsed and what it makes of it, once its patient and shortlist are checked. */
export interface CreateOfReferral<R extends CreateReferralRequest> {
  parse: () => R;
  plan(
    request: R,
    services: Map<string, HealthcareService>,
    time: string,
  ): Omit<NewReferral, 'detail' | 'time'> & { detail?: Record<string, unknown> };
}

/**
 * A new referral (a011, a021), in the order each answers in: request parsed, its patient current
 * in PDS, its shortlisted services in the directory and open to the referrer; then committed under
 * a new UBRN inside writeOnce (audited with the caller's business function and the services).
 */
export function createReferral<R extends CreateReferralRequest>(
  deps: { store: ResourceStore; now: () => Date },
  ctx: RequestContext,
  caller: ErsCaller,
  create: CreateOfReferral<R>,
): Promise<StoredResource<ReferralRequest>> {
  return writeOnce(deps.store, ctx, {
    answers: REFERRAL_REQUEST,
    asBefore,
    write: async (once) => {
      const request = create.parse();
      await requireCurrentPatient(deps.store, request.nhsNumber);
      const services = await shortlistedServices(deps.store, request.serviceIds, caller.ods);
      const time = deps.now().toISOString();
      const { detail, ...what } = create.plan(request, services, time);
      return commitNewReferral(deps.store, ctx, once, {
        ...what,
        detail: {
          businessFunction: caller.businessFunction,
          services: request.serviceIds,
          ...detail,
        },
        time,
      });
    },
  });
}

export interface NewReferral {
  /** The referral to store under a freshly drawn UBRN. */
  build: (ubrn: string) => ReferralRequest;
  /** Audit detail (the UBRN is added). */
  detail: Record<string, unknown>;
  /** The outbox topics announcing it (event-topics.ts), one message each. */
  topics: string[];
  /** Other writes committed with it (a021's proposed appointment). */
  with?: (referral: ReferralRequest) => ResourceWrite[];
  time: string;
}

/**
 * Commits a new referral (version 1, audited as ers.referral.create, answered 201) under a UBRN
 * never used before: a UBRN already held is refused by the store (expectedVersion 0) and another is
 * drawn; a racing twin of this very request is answered as it was.
 */
export async function commitNewReferral(
  store: ResourceStore,
  ctx: RequestContext,
  { record, twin }: WriteRequest<StoredResource<ReferralRequest>>,
  what: NewReferral,
): Promise<StoredResource<ReferralRequest>> {
  for (let attempt = 0; attempt < UBRN_ATTEMPTS; attempt++) {
    const ubrn = drawUbrn();
    const referral = what.build(ubrn);
    try {
      const [, saved] = await store.commit({
        resources: [
          ubrnReservation(ubrn, 'ReferralRequest'),
          referralWrite(referral, 0),
          ...(what.with?.(referral) ?? []),
        ],
        audit: [
          auditRecord(ctx, 'ers.referral.create', patientOf(referral), 'success', {
            ubrn,
            ...what.detail,
          }),
        ],
        messages: what.topics.map((topic) => referralMessage(topic, referral, 1, what.time)),
        request: record({
          status: 201,
          resourceType: REFERRAL_REQUEST,
          resourceId: ubrn,
          version: 1,
        }),
      });
      return saved as StoredResource<ReferralRequest>;
    } catch (err) {
      if (!(err instanceof VersionConflictError)) throw err;
      // the UBRN is already held, by a referral or an A&G request (or this very request's twin
      // committed): draw another
      const answered = await twin();
      if (answered) return answered as StoredResource<ReferralRequest>;
    }
  }
  throw ersError(503, 'transient', 'SERVICE_UNAVAILABLE', 'Too many referrals at once; try again');
}

export function newReferral(
  ubrn: string,
  request: CreateReferralRequest,
  referrer: string,
  services: Map<string, string>,
): ReferralRequest {
  const ods = (value: string) => ({ system: ODS_SYSTEM_STU3, value });
  const extension: Extension[] = [
    ...(request.priority
      ? [{ url: PRIORITY_URL, valueCodeableConcept: { coding: [request.priority] } }]
      : []),
    ...(request.pathwayStart
      ? [{ url: PATHWAY_START_URL, valueInstant: request.pathwayStart }]
      : []),
    { url: SHORTLIST_URL, valueReference: { reference: '#shortlist' } },
    { url: COMMISSIONING_ORG_URL, valueIdentifier: ods(referrer) },
    stateExtension('NOT_BOOKED'),
    { url: REFERRER_ORG_URL, valueIdentifier: ods(referrer) },
  ];
  return {
    resourceType: 'ReferralRequest',
    id: ubrn,
    meta: { profile: [ERS_PROFILE] },
    extension,
    contained: [
      { ...request.shortlist, id: 'shortlist', entry: shortlistEntries(request, services) },
    ],
    status: 'active',
    intent: 'plan',
    subject: { identifier: { system: NHS_NUMBER_SYSTEM_STU3, value: request.nhsNumber } },
    supportingInfo: [],
  };
}

/** The shortlist's entries as given, each service named as the directory names it (as eRS answers). */
export function shortlistEntries(
  request: Pick<CreateReferralRequest, 'shortlist' | 'serviceIds'>,
  services: Map<string, string>,
) {
  return (request.shortlist.entry as Record<string, any>[]).map((entry, i) => ({
    ...entry,
    item: { ...entry.item, display: services.get(request.serviceIds[i]) },
  }));
}
