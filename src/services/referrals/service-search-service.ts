/**
 * Patient service search ($ers.searchHealthcareServicesForPatient, a010): the directory's e-RS
 * services (HealthcareServices with an e-RS profile, src/services/directory/ers-profile.ts) that meet
 * a patient's referral needs, nearest or shortest wait first.
 *
 * The store is asked through the directory's index (ers-specialty, ers-clinic-type, organization),
 * so a search reads the services of one specialty or clinic type, never every service; the rest of
 * the criteria (priority, request type, wait, distance, referrer restriction, active) are checked on
 * those. The patient is read through PDS's port (known and current, or PDS's own 404/422) and the
 * search is audited against them. Distances are between postcode districts (postcode-districts.ts):
 * from the criteria's postcode, else the patient's current home address (never a restricted
 * patient's: their address is not used); an unknown district gives an unknown distance.
 */
import type { HealthcareService, Patient } from 'fhir/r4.js';
import { auditRecord } from '../../audit/audit-record.js';
import type { AuditWriter } from '../../audit/audit-writer.js';
import type { RequestContext } from '../../context.js';
import type { ResourceStore, SearchCriterion, StoredResource } from '../../store/resource-store.js';
import {
  ersProfileOf,
  HEALTHCARE_SERVICE,
  ORGANIZATION,
  PRACTITIONER_ROLE,
  type ErsProfile,
} from '../directory/index.js';
import { isCurrentAddress, isRestricted, requireCurrentPatient } from '../pds/index.js';
import { ersError } from './ers-errors.js';
import {
  coordinatesOf,
  districtsWithin,
  milesBetween,
  type Coordinates,
} from './postcode-districts.js';
import type { ErsCaller } from './referral-rules.js';
import { parseServiceSearch, type ServiceSearchRequest } from './service-search-rules.js';

/** The most services one answer lists ("the top results according to the sorting requested"). */
export const MAX_RESULTS = 100;
/**
 * The most services one search may match before its criteria are applied: a search matching more is
 * refused (narrow it) rather than sorted on a part of them, which would answer the wrong "top".
 */
export const MAX_CANDIDATES = 5000;
/** Up to this many districts within a distance limit narrow the index search by postcode. */
const MAX_NEAR_DISTRICTS = 200;

/** One service found, with what the answer says about it. */
export interface FoundService {
  id: string;
  service: HealthcareService;
  profile: ErsProfile;
  /** Miles from the patient (or the given postcode), when both districts are known. */
  miles?: number;
  /** The provider's ODS code and name. */
  provider: { ods: string; name: string };
}

export interface ServiceSearchResult {
  request: ServiceSearchRequest;
  services: FoundService[];
}

/** The patient's current home address postcode; none for a restricted patient. */
function homePostcode(patient: Patient): string | undefined {
  if (isRestricted(patient)) return undefined;
  const current = (patient.address ?? []).filter((a) => isCurrentAddress(a) && a.postalCode);
  return (current.find((a) => a.use === 'home') ?? current[0])?.postalCode;
}

const postcodeOf = (s: HealthcareService) =>
  s.contained?.find((c) => c.resourceType === 'Location')?.address?.postalCode;

/** Does the service take this kind of request? */
function takes(p: ErsProfile, request: ServiceSearchRequest): boolean {
  if (!p.priorities.includes(request.priority)) return false;
  // a referral (appointment request) goes to a bookable or a triage service; A&G needs the flag
  return request.requestType === 'ADVICE_AND_GUIDANCE_REQUEST' ? p.adviceAndGuidance : true;
}

/** Unknown last, then ascending. */
const ascending = (a: number | undefined, b: number | undefined) =>
  a === b ? 0 : a === undefined ? 1 : b === undefined ? -1 : a - b;

export class ServiceSearch {
  constructor(
    readonly store: ResourceStore,
    readonly audit: AuditWriter,
  ) {}

  async search(
    ctx: RequestContext,
    caller: ErsCaller,
    body: unknown,
  ): Promise<ServiceSearchResult> {
    const request = parseServiceSearch(body);
    const patient = await requireCurrentPatient(this.store, request.nhsNumber);
    const from = request.postcode ?? homePostcode(patient.resource);
    const origin = from === undefined ? undefined : coordinatesOf(from);
    const criteria = await this.indexCriteria(request, origin);
    const candidates = criteria
      ? await this.store.searchResources({
          type: HEALTHCARE_SERVICE,
          criteria,
          limit: MAX_CANDIDATES + 1,
        })
      : [];
    if (candidates.length > MAX_CANDIDATES)
      throw ersError(
        422,
        'business-rule',
        'INAPPROPRIATE_VALUE',
        `more than ${MAX_CANDIDATES} services match; narrow the search (specialty and clinic type, organisation)`,
      );
    const found = candidates
      .map((s) => this.assess(s, request, caller, origin))
      .filter((f): f is Omit<FoundService, 'provider'> => f !== undefined)
      .sort((a, b) => {
        const distance = ascending(a.miles, b.miles);
        const wait = ascending(a.profile.waitDays, b.profile.waitDays);
        const first = request.sortBy === 'DISTANCE' ? distance || wait : wait || distance;
        return (
          first ||
          (a.service.name ?? '').localeCompare(b.service.name ?? '') ||
          (a.id < b.id ? -1 : 1)
        );
      })
      .slice(0, MAX_RESULTS);
    const services = await this.withProviders(found);
    await this.audit.append(
      auditRecord(ctx, 'ers.service.search', request.nhsNumber, 'success', {
        businessFunction: caller.businessFunction,
        requestType: request.requestType,
        specialty: request.specialty,
        clinicType: request.clinicType,
        priority: request.priority,
        found: services.length,
      }),
    );
    return { request, services };
  }

  /**
   * The index criteria (AND'ed): the most selective facts the directory indexes; undefined when
   * nothing can match (a distance limit with no known place to measure from or no district near).
   */
  private async indexCriteria(
    request: ServiceSearchRequest,
    origin: Coordinates | undefined,
  ): Promise<SearchCriterion[] | undefined> {
    const eq = (param: string, value: string) => ({ param, op: 'eq' as const, value });
    const criteria: SearchCriterion[] = [];
    if (request.specialty) criteria.push({ any: [eq('ers-specialty', request.specialty)] });
    if (request.clinicType) criteria.push({ any: [eq('ers-clinic-type', request.clinicType)] });
    if (request.organisation) criteria.push({ any: [eq('organization', request.organisation)] });
    if (request.namedClinician) {
      const orgs = await this.clinicianOrganisations(request.namedClinician);
      criteria.push({ any: orgs.map((org) => eq('organization', org)) });
    }
    if (request.distanceLimit !== undefined) {
      // only services in the districts near enough can pass the limit: read only those (a prefix
      // 'LS1' also finds LS10..., which assess() then measures and drops)
      const near = origin ? districtsWithin(origin, request.distanceLimit) : [];
      if (!near.length) return undefined;
      if (near.length <= MAX_NEAR_DISTRICTS)
        criteria.push({
          any: near.map((d) => ({ param: 'postcode', op: 'prefix' as const, value: d })),
        });
    }
    return criteria;
  }

  /**
   * The organisations a named clinician works at: their active role profiles in the directory. A
   * clinician with none is a reference that does not resolve (422 REFERENCE_NOT_FOUND).
   */
  private async clinicianOrganisations(user: string): Promise<string[]> {
    const roles = await this.store.searchResources({
      type: PRACTITIONER_ROLE,
      criteria: [{ any: [{ param: 'practitioner', op: 'eq', value: user }] }],
      limit: 100,
    });
    const orgs = roles
      .filter((r) => r.resource.active !== false)
      .map((r) => r.resource.organization?.identifier?.value)
      .filter((o): o is string => typeof o === 'string');
    if (!orgs.length)
      throw ersError(
        422,
        'not-found',
        'REFERENCE_NOT_FOUND',
        `Named clinician ${user} holds no active role at any organisation`,
      );
    return [...new Set(orgs)];
  }

  /** The service as found, or undefined when a criterion or the referrer restriction excludes it. */
  private assess(
    stored: StoredResource<HealthcareService>,
    request: ServiceSearchRequest,
    caller: ErsCaller,
    origin: Coordinates | undefined,
  ): Omit<FoundService, 'provider'> | undefined {
    const service = stored.resource;
    const profile = ersProfileOf(service);
    if (!profile || service.active === false || !takes(profile, request)) return undefined;
    // a restricted service is found only by referrers at the organisations it names
    if (profile.restrictedTo && !profile.restrictedTo.includes(caller.ods)) return undefined;
    if (request.specialty && profile.specialty !== request.specialty) return undefined;
    if (request.clinicType && !profile.clinicTypes.includes(request.clinicType)) return undefined;
    if (request.waitLimitDays !== undefined)
      if (profile.waitDays === undefined || profile.waitDays > request.waitLimitDays)
        return undefined;
    const at = postcodeOf(service);
    const there = at === undefined ? undefined : coordinatesOf(at);
    const miles = origin && there ? milesBetween(origin, there) : undefined;
    if (request.distanceLimit !== undefined)
      if (miles === undefined || miles > request.distanceLimit) return undefined;
    return { id: stored.id, service, profile, ...(miles === undefined ? {} : { miles }) };
  }

  /** Each service with its provider's name, as the directory holds it. */
  private async withProviders(found: Omit<FoundService, 'provider'>[]): Promise<FoundService[]> {
    const codes = [
      ...new Set(
        found.map((f) => f.service.providedBy?.identifier?.value).filter((c): c is string => !!c),
      ),
    ];
    const names = new Map(
      (await this.store.readMany(ORGANIZATION, codes)).map((o) => [o.id, o.resource.name]),
    );
    return found.map((f) => {
      const ods = f.service.providedBy?.identifier?.value ?? '';
      return { ...f, provider: { ods, name: names.get(ods) ?? ods } };
    });
  }
}
