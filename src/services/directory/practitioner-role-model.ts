/**
 * Directory PractitionerRoles: an SDS user's role profile, i.e. a national RBAC job role held at an
 * organisation for a period, as the SDS FHIR API represents it.
 *
 * Representation (FHIR R4 PractitionerRole):
 * - practitioner: by SDS user id (identifier only; OpenSpine keeps no Practitioner resources);
 * - organization: by literal reference and ODS identifier;
 * - code: one national RBAC role code (the roles of src/security/policy.ts, the patient pseudo-role
 *   excepted) under the SDS job role code system;
 * - period (dates) and active; endpoint: literal references to directory Endpoints.
 * One PractitionerRole per (user, organisation, role): the 'key' index row lets writers find a twin.
 */
import { randomUUID } from 'node:crypto';
import type { PractitionerRole } from 'fhir/r4.js';
import { resourceType, type IndexEntry, type ResourceStore } from '../../store/resource-store.js';
import { JOB_ROLE_SYSTEM, USER_ID_SYSTEM } from '../../audit/audit-event.js';
import { isObject } from '../../fhir/json-shape.js';
import { PATIENT_ROLE, ROLES, roleName } from '../../security/policy.js';
import { ODS_CODE, ORGANIZATION, orgReference } from './organization-model.js';
import {
  badCode,
  codesOf,
  datePeriod,
  flag,
  invalid,
  list,
  literalReferences,
  missing,
  odsReference,
  resourceBody,
  telecom,
} from './resource-rules.js';

export const PRACTITIONER_ROLE = resourceType<PractitionerRole>('PractitionerRole');
export { JOB_ROLE_SYSTEM, USER_ID_SYSTEM };
export const SDS_USER_ID = /^[A-Za-z0-9._-]{1,64}$/;

export class PractitionerRoleError extends Error {}

export interface RoleFacts {
  id: string;
  user: string;
  org: string;
  role: string;
  active: boolean;
  period?: { start?: string; end?: string };
  endpoints: string[];
  telecom?: PractitionerRole['telecom'];
}

/** A role code the directory accepts: a national RBAC role the platform knows. */
export function isJobRole(code: string): boolean {
  return code !== PATIENT_ROLE && Object.hasOwn(ROLES, code);
}

/** The uniqueness key of a role profile. */
export const roleKey = (user: string, org: string, role: string) => `${user}|${org}|${role}`;

export function buildPractitionerRole(f: RoleFacts): PractitionerRole {
  const doc: PractitionerRole = {
    resourceType: 'PractitionerRole',
    id: f.id,
    active: f.active,
    ...(f.period && (f.period.start || f.period.end) ? { period: f.period } : {}),
    practitioner: { identifier: { system: USER_ID_SYSTEM, value: f.user } },
    organization: orgReference(f.org),
    code: [{ coding: [{ system: JOB_ROLE_SYSTEM, code: f.role, display: roleName(f.role) }] }],
  };
  if (f.telecom?.length) doc.telecom = f.telecom;
  if (f.endpoints.length) doc.endpoint = f.endpoints.map((id) => ({ reference: `Endpoint/${id}` }));
  return doc;
}

const ALLOWED = [
  'resourceType',
  'id',
  'meta',
  'active',
  'period',
  'practitioner',
  'organization',
  'code',
  'telecom',
  'endpoint',
];

export function validatePractitionerRole(body: unknown, id: string): RoleFacts {
  const b = resourceBody(body, PRACTITIONER_ROLE, ALLOWED);
  const practitioner = b.practitioner;
  if (practitioner === undefined) throw missing('practitioner');
  const identifier = isObject(practitioner) ? practitioner.identifier : undefined;
  if (
    !isObject(identifier) ||
    identifier.system !== USER_ID_SYSTEM ||
    typeof identifier.value !== 'string'
  ) {
    throw invalid('practitioner.identifier', `expected an SDS user id under ${USER_ID_SYSTEM}`);
  }
  if (!SDS_USER_ID.test(identifier.value))
    throw invalid(
      'practitioner.identifier.value',
      `'${identifier.value.slice(0, 40)}' is not an SDS user id`,
    );
  const codes = codesOf(list(b, 'code', { required: true, max: 1 }), 'code', JOB_ROLE_SYSTEM);
  if (codes.length !== 1) throw invalid('code', 'expected exactly one job role code');
  if (!isJobRole(codes[0]))
    throw badCode(
      'code',
      `unknown job role code '${codes[0].slice(0, 20)}' (known: ${Object.keys(ROLES).filter(isJobRole).join(', ')})`,
    );
  return {
    id,
    user: identifier.value,
    org: odsReference(b.organization, 'organization'),
    role: codes[0],
    active: flag(b, 'active', true),
    period: datePeriod(b.period, 'period'),
    endpoints: [...new Set(literalReferences(list(b, 'endpoint'), 'endpoint', 'Endpoint'))],
    telecom: telecom(list(b, 'telecom', { max: 10 }), 'telecom'),
  };
}

/** Index rows: organization, practitioner (SDS user id), role, active, endpoint, key. */
export function indexPractitionerRole(r: PractitionerRole): IndexEntry[] {
  const rows: IndexEntry[] = [];
  const org = r.organization?.identifier?.value;
  const user = r.practitioner?.identifier?.value;
  const role = r.code?.[0]?.coding?.[0]?.code;
  if (org) rows.push({ param: 'organization', value: org });
  if (user) rows.push({ param: 'practitioner', value: user });
  if (role) rows.push({ param: 'role', value: role });
  rows.push({ param: 'active', value: r.active === false ? 'false' : 'true' });
  for (const id of new Set((r.endpoint ?? []).map((e) => e.reference?.replace(/^Endpoint\//, ''))))
    if (id) rows.push({ param: 'endpoint', value: id });
  if (org && user && role) rows.push({ param: 'key', value: roleKey(user, org, role) });
  return rows;
}

/** Ids of the PractitionerRoles with this (user, organisation, role), at most `limit`. */
export function rolesWithKey(repo: ResourceStore, key: string, limit = 2): Promise<string[]> {
  return repo.search({
    type: PRACTITIONER_ROLE,
    criteria: [{ any: [{ param: 'key', op: 'eq', value: key }] }],
    limit,
  });
}

/** Registers a role profile (the CLI's `directory role add`); an existing one is left as it is. */
export async function addPractitionerRole(
  repo: ResourceStore,
  reg: { user: string; org: string; role: string; start?: string },
): Promise<{ role: PractitionerRole; changed: boolean }> {
  const org = reg.org.toUpperCase();
  if (!SDS_USER_ID.test(reg.user))
    throw new PractitionerRoleError(`invalid SDS user id '${reg.user}'`);
  if (!ODS_CODE.test(org)) throw new PractitionerRoleError(`invalid ODS code '${reg.org}'`);
  if (!isJobRole(reg.role))
    throw new PractitionerRoleError(
      `unknown job role code '${reg.role}' (known: ${Object.keys(ROLES).filter(isJobRole).join(', ')})`,
    );
  let period: RoleFacts['period'];
  try {
    period = datePeriod(reg.start ? { start: reg.start } : undefined, 'start');
  } catch {
    throw new PractitionerRoleError(`invalid start date '${reg.start}' (expected YYYY-MM-DD)`);
  }
  if (!(await repo.read(ORGANIZATION, org)))
    throw new PractitionerRoleError(`organisation ${org} is not in the directory`);
  const [existing] = await rolesWithKey(repo, roleKey(reg.user, org, reg.role), 1);
  if (existing)
    return {
      role: (await repo.read(PRACTITIONER_ROLE, existing))!.resource,
      changed: false,
    };
  const role = buildPractitionerRole({
    id: randomUUID(),
    user: reg.user,
    org,
    role: reg.role,
    active: true,
    period,
    endpoints: [],
  });
  await repo.commit({
    resources: [
      {
        type: PRACTITIONER_ROLE,
        id: role.id!,
        expectedVersion: 0,
        resource: role,
        index: indexPractitionerRole(role),
      },
    ],
    audit: [
      {
        time: new Date().toISOString(),
        requestId: 'directory-role-add',
        userId: 'openspine-cli',
        role: 'system',
        org: 'OPENSPINE',
        patient: null,
        action: 'directory.role.add',
        outcome: 'success',
        detail: { user: reg.user, org, role: reg.role },
      },
    ],
  });
  return { role, changed: true };
}
