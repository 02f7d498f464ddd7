import {
  RELATIONSHIP_TYPE,
  relationshipIndex,
  type CareRelationship,
} from '../../security/relationships.js';
import { VersionConflictError } from '../../store/errors.js';
import type { AuditRecord } from '../../audit/types.js';
import type { ResourceWrite, ResourceStore } from '../../store/resource-store.js';

/**
 * The legitimate relationship a prescription gives a pharmacy (its nominated pharmacy at
 * prescribing, the dispenser at release): one CareRelationship per patient and pharmacy, with a
 * fixed id so that prescriptions extend it instead of piling up, lasting until a while after the
 * last prescription it covers expires. Returned as a write, so it commits with the transition.
 */
const GRACE_DAYS = 28;

export const prescriptionRelationshipId = (nhsNumber: string, org: string) =>
  `eps-${nhsNumber}-${org}`;

export async function prescriptionRelationshipWrite(
  repo: ResourceStore,
  nhsNumber: string,
  org: string,
  source: string,
  until: string,
): Promise<ResourceWrite | null> {
  const id = prescriptionRelationshipId(nhsNumber, org);
  const end = new Date(Date.parse(until + 'T00:00:00Z') + GRACE_DAYS * 86_400_000).toISOString();
  const stored = await repo.read(RELATIONSHIP_TYPE, id);
  const current = stored?.resource as CareRelationship | undefined;
  if (current && current.status === 'active' && current.end && current.end >= end) return null;
  const rel: CareRelationship = {
    resourceType: RELATIONSHIP_TYPE,
    id,
    patient: nhsNumber,
    org,
    kind: 'prescription',
    status: 'active',
    start: current?.status === 'active' ? current.start : new Date().toISOString(),
    end,
    source,
  };
  return {
    type: RELATIONSHIP_TYPE,
    id,
    expectedVersion: stored?.version ?? 0,
    resource: rel,
    index: relationshipIndex(rel),
  };
}

/**
 * Records (or extends) the relationship on its own, for a twin request racing to do the same:
 * whichever commits, it holds.
 */
export async function ensurePrescriptionRelationship(
  repo: ResourceStore,
  nhsNumber: string,
  org: string,
  source: string,
  until: string,
  audit: AuditRecord[],
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const write = await prescriptionRelationshipWrite(repo, nhsNumber, org, source, until);
    if (!write) return;
    try {
      await repo.commit({ resources: [write], audit });
      return;
    } catch (err) {
      if (!(err instanceof VersionConflictError) || attempt >= 3) throw err;
    }
  }
}
