import { resourceType, type ResourceStore } from '../store/resource-store.js';
import { randomUUID } from 'node:crypto';
import { auditRecord } from '../audit/audit-record.js';
import { registeredPractice } from '../fhir/general-practitioner.js';
import type { RequestContext } from '../context.js';
import type { AuditRecord } from '../audit/types.js';
import type { RequestRecord } from '../store/request-log.js';
import type { Principal } from './principal.js';

export const RELATIONSHIP_TYPE = resourceType<CareRelationship>('CareRelationship');
export const EMERGENCY_ACCESS_TYPE = resourceType<EmergencyAccessGrant>('EmergencyAccess');

/**
 * The API request a change is made for: `record` makes its X-Request-ID record (the write path's,
 * src/services/write-once.ts), committed with the change and answered with `status`.
 */
export interface ForRequest {
  record: (
    answer: Pick<RequestRecord, 'status' | 'resourceType' | 'resourceId' | 'version'>,
  ) => RequestRecord | undefined;
  status: number;
}

const recordOf = (
  request: ForRequest | undefined,
  resourceType: string,
  resourceId: string,
  version: number,
): RequestRecord | undefined =>
  request?.record({ status: request.status, resourceType, resourceId, version });

/** Why an organisation may see a patient's clinical data. */
export type RelationshipKind =
  'registered-gp' | 'referral' | 'care-episode' | 'prescription' | 'self-claimed';
/** The basis on which a request was allowed: a relationship, or emergency access. */
export type AccessBasis = RelationshipKind | 'emergency-access';

export interface CareRelationship {
  resourceType: typeof RELATIONSHIP_TYPE;
  id: string;
  patient: string;
  org: string;
  kind: Exclude<RelationshipKind, 'registered-gp'>;
  status: 'active' | 'ended';
  start: string;
  /** ISO time after which the relationship no longer counts (open-ended when absent). */
  end?: string;
  /** What created it: a referral id, prescription id, episode id, or the user who claimed it. */
  source: string;
  reason?: string;
}

export interface EmergencyAccessGrant {
  resourceType: typeof EMERGENCY_ACCESS_TYPE;
  id: string;
  patient: string;
  userId: string;
  org: string;
  role: string;
  reasonCode: string;
  reasonText: string;
  granted: string;
  expires: string;
}

/** Reason codes a user states for emergency access (OpenSpine code system; documented in docs/security.md). */
export const EMERGENCY_REASONS: Readonly<Record<string, string>> = {
  'life-threatening': "The patient's life or health is at immediate risk",
  'unable-to-consent':
    'The patient cannot give consent (unconscious, lacks capacity) and care is needed now',
  'urgent-care': 'Urgent care is needed and the relationship cannot be recorded in time',
  'public-interest': 'Disclosure is required in the public interest or by law',
};

export const EMERGENCY_ACCESS_MINUTES = 60;

const patientOrgKey = (patient: string, org: string) => `${patient}|${org}`;
const patientUserKey = (patient: string, userId: string) => `${patient}|${userId}`;

/**
 * Legitimate relationships: clinical data about a patient is visible to a caller's organisation
 * only when it is the registered GP practice, has an open referral or care episode, holds a
 * nominated or released prescription, or has self-claimed a relationship (audited); or when this
 * user has current emergency access to the patient. Services that create relationships (e-RS,
 * EPS, episodes) record them here, so the check is the same for every clinical route.
 */
export class LegitimateRelationships {
  constructor(private readonly repo: ResourceStore) {}

  /**
   * The basis on which the caller's organisation may see the patient, or null. `known` is the
   * patient's record when the caller has already read it in this request: the registered practice
   * is then checked first, for free. Without it, recorded relationships are looked up first and the
   * record is read only when none applies, so a pharmacy or hospital with a relationship costs no read
   * of the record (both are legitimate bases; an org that has both may be reported under either).
   */
  async basis(
    principal: Principal,
    patient: string,
    now = Date.now(),
    known?: Record<string, any>,
  ): Promise<AccessBasis | null> {
    if (principal.org) {
      const today = new Date(now).toISOString().slice(0, 10);
      // only the current registration counts: a practice the patient has left has no relationship
      const isRegisteredGp = (record: Record<string, any> | undefined) =>
        record !== undefined && registeredPractice(record, today) === principal.org;
      if (isRegisteredGp(known)) return 'registered-gp';
      const open = (
        await this.repo.searchResources({
          type: RELATIONSHIP_TYPE,
          criteria: [
            {
              any: [
                { param: 'patient-org', op: 'eq', value: patientOrgKey(patient, principal.org) },
              ],
            },
          ],
          limit: 100,
        })
      )
        .map((s) => s.resource)
        .filter((r) => r.status === 'active' && (!r.end || Date.parse(r.end) > now));
      // prefer the strongest basis when several apply; self-claimed last, because it is the one reported on
      for (const kind of ['care-episode', 'referral', 'prescription'] as const)
        if (open.some((r) => r.kind === kind)) return kind;
      if (!known && isRegisteredGp((await this.repo.read('Patient', patient))?.resource))
        return 'registered-gp';
      if (open.some((r) => r.kind === 'self-claimed')) return 'self-claimed';
    }
    if (
      principal.kind === 'user' &&
      (await this.activeEmergencyAccess(principal.userId, patient, now))
    )
      return 'emergency-access';
    return null;
  }

  async activeEmergencyAccess(
    userId: string,
    patient: string,
    now = Date.now(),
  ): Promise<EmergencyAccessGrant | null> {
    const grants = (
      await this.repo.searchResources({
        type: EMERGENCY_ACCESS_TYPE,
        criteria: [
          { any: [{ param: 'patient-user', op: 'eq', value: patientUserKey(patient, userId) }] },
        ],
        limit: 100,
      })
    ).map((s) => s.resource);
    return grants.find((g) => Date.parse(g.expires) > now) ?? null;
  }

  /** Records a relationship created by a service (referral, prescription, episode), with the caller's audit entries. */
  async record(
    input: Omit<CareRelationship, 'resourceType' | 'id' | 'status' | 'start'> & { start?: string },
    audit: AuditRecord[] = [],
    request?: ForRequest,
  ): Promise<CareRelationship> {
    const rel: CareRelationship = {
      resourceType: RELATIONSHIP_TYPE,
      id: randomUUID(),
      status: 'active',
      start: input.start ?? new Date().toISOString(),
      ...input,
    };
    await this.repo.commit({
      resources: [
        {
          type: RELATIONSHIP_TYPE,
          id: rel.id,
          expectedVersion: 0,
          resource: rel,
          index: relationshipIndex(rel),
        },
      ],
      audit,
      request: recordOf(request, RELATIONSHIP_TYPE, rel.id, 1),
    });
    return rel;
  }

  /** Ends a relationship (episode closed, referral completed); false if it is not there or already ended. */
  async end(
    id: string,
    audit: AuditRecord[] = [],
    request?: ForRequest,
  ): Promise<CareRelationship | null> {
    const stored = await this.repo.read(RELATIONSHIP_TYPE, id);
    if (!stored || stored.resource.status !== 'active') return null;
    const ended: CareRelationship = {
      ...stored.resource,
      status: 'ended',
      end: new Date().toISOString(),
    };
    await this.repo.commit({
      resources: [
        {
          type: RELATIONSHIP_TYPE,
          id,
          expectedVersion: stored.version,
          resource: ended,
          index: relationshipIndex(ended),
        },
      ],
      audit,
      request: recordOf(request, RELATIONSHIP_TYPE, id, stored.version + 1),
    });
    return ended;
  }

  async get(id: string): Promise<CareRelationship | null> {
    return (await this.repo.read(RELATIONSHIP_TYPE, id))?.resource ?? null;
  }

  /** A user's self-claimed relationship for their org: recorded, audited as such, and reportable. */
  async selfClaim(
    ctx: RequestContext,
    patient: string,
    reason: string,
    request?: ForRequest,
  ): Promise<CareRelationship> {
    const p = ctx.principal!;
    return this.record(
      { patient, org: p.org, kind: 'self-claimed', source: `user:${p.userId}`, reason },
      [
        auditRecord(
          ctx,
          'relationship.claim',
          patient,
          'granted',
          { reason },
          { type: 'self-claimed-relationship', purpose: 'self-claimed-relationship' },
        ),
      ],
      request,
    );
  }

  /**
   * Break-glass: grants this user access to this patient for a limited time. The audit entry
   * (type emergency-access, with the reason) is the alert privacy officers list and review.
   */
  async grantEmergencyAccess(
    ctx: RequestContext,
    patient: string,
    reasonCode: string,
    reasonText: string,
    minutes = EMERGENCY_ACCESS_MINUTES,
    request?: ForRequest,
  ): Promise<EmergencyAccessGrant> {
    const p = ctx.principal!;
    const now = Date.now();
    const grant: EmergencyAccessGrant = {
      resourceType: EMERGENCY_ACCESS_TYPE,
      id: randomUUID(),
      patient,
      userId: p.userId,
      org: p.org,
      role: p.role,
      reasonCode,
      reasonText,
      granted: new Date(now).toISOString(),
      expires: new Date(now + minutes * 60_000).toISOString(),
    };
    await this.repo.commit({
      resources: [
        {
          type: EMERGENCY_ACCESS_TYPE,
          id: grant.id,
          expectedVersion: 0,
          resource: grant,
          index: [
            { param: 'patient-user', value: patientUserKey(patient, p.userId) },
            { param: 'patient', value: patient },
          ],
        },
      ],
      audit: [
        auditRecord(
          ctx,
          'emergency.access',
          patient,
          'granted',
          { reasonCode, reasonText, expires: grant.expires, alert: true },
          { type: 'emergency-access', purpose: 'emergency-access' },
        ),
      ],
      request: recordOf(request, EMERGENCY_ACCESS_TYPE, grant.id, 1),
    });
    return grant;
  }
}

export function relationshipIndex(rel: CareRelationship) {
  return [
    { param: 'patient-org', value: patientOrgKey(rel.patient, rel.org) },
    { param: 'patient', value: rel.patient },
    { param: 'org', value: rel.org },
    { param: 'kind', value: rel.kind },
  ];
}
