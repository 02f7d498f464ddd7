/**
 * Who may act in which e-RS business function, from the platform's own rules so that what a030
 * lists is what the other routes accept:
 * - a user's role profiles are those its token vouches for (the identity provider's role claims)
 *   and the directory's active PractitionerRoles for the user (SDS);
 * - a role profile grants a business function when the role allows every activity the function
 *   allows (ERS_BUSINESS_FUNCTIONS in src/security/policy.ts): a request needs both to allow its
 *   activity, so a function whose activities the role lacks would be refused anyway. Functions that
 *   allow nothing yet (published but not served) are never granted.
 * a030 (`GET PractitionerRole`) lists the caller's functions per organisation; a040
 * (`GET Practitioner?_query=onBehalfOf`) lists the SERVICE_PROVIDER_CLINICIANs at the caller's
 * organisation a SERVICE_PROVIDER_CLINICIAN_ADMIN may act for.
 */
import type { PractitionerRole } from 'fhir/r4.js';
import { ERS_BUSINESS_FUNCTIONS, roleGrantsBusinessFunction } from '../../security/policy.js';
import type { Principal } from '../../security/principal.js';
import type { ResourceStore } from '../../store/resource-store.js';
import { PRACTITIONER_ROLE } from '../directory/index.js';

export const BUSINESS_FUNCTION_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/eRS-BusinessFunction-1';
export const SDS_USER_SYSTEM = 'https://fhir.nhs.uk/Id/sds-user-id';
export const ODS_ORG_SYSTEM = 'https://fhir.nhs.uk/Id/ods-organization-code';
/** The most role profiles read for one user or one organisation (a bound on one request's work). */
const MAX_ROLES = 1000;

/** The business functions a national RBAC role grants, in the published order. */
export function businessFunctionsOfRole(role: string): string[] {
  return Object.entries(ERS_BUSINESS_FUNCTIONS)
    .filter(([name]) => roleGrantsBusinessFunction(role, name))
    .map(([name]) => name);
}

interface RoleProfile {
  org: string;
  role: string;
}

/** A directory PractitionerRole in force today (active, and its period covering the date). */
function inForce(r: PractitionerRole, today: string): boolean {
  if (r.active === false) return false;
  const { start, end } = r.period ?? {};
  return (!start || start.slice(0, 10) <= today) && (!end || end.slice(0, 10) >= today);
}

const profileOf = (r: PractitionerRole): RoleProfile | undefined => {
  const org = r.organization?.identifier?.value;
  const role = r.code?.[0]?.coding?.[0]?.code;
  return org && role ? { org, role } : undefined;
};

async function directoryRoles(
  store: ResourceStore,
  param: 'practitioner' | 'organization',
  value: string,
): Promise<PractitionerRole[]> {
  const found = await store.searchResources({
    type: PRACTITIONER_ROLE,
    criteria: [{ any: [{ param, op: 'eq', value }] }],
    limit: MAX_ROLES,
  });
  const today = new Date().toISOString().slice(0, 10);
  return found.map((s) => s.resource).filter((r) => inForce(r, today));
}

/** The caller's business functions per ODS code (organisations granting none are left out). */
export async function callerBusinessFunctions(
  store: ResourceStore,
  principal: Principal,
): Promise<Map<string, string[]>> {
  const profiles: RoleProfile[] = [
    ...(principal.profiles ?? []).map((p) => ({ org: p.org, role: p.role })),
    ...(principal.role && principal.org ? [{ org: principal.org, role: principal.role }] : []),
    ...(await directoryRoles(store, 'practitioner', principal.userId)).flatMap(
      (r) => profileOf(r) ?? [],
    ),
  ];
  const byOrg = new Map<string, Set<string>>();
  for (const p of profiles)
    for (const f of businessFunctionsOfRole(p.role))
      byOrg.set(p.org, (byOrg.get(p.org) ?? new Set()).add(f));
  const order = Object.keys(ERS_BUSINESS_FUNCTIONS);
  return new Map(
    [...byOrg.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([org, fs]) => [org, order.filter((f) => fs.has(f))]),
  );
}

/** a030's answer: one PractitionerRole per organisation, coded with its business functions. */
export function businessFunctionBundle(
  userId: string,
  functions: Map<string, string[]>,
  baseUrl: string,
  bundleId: string,
) {
  const now = new Date().toISOString();
  const entry = [...functions.entries()].map(([org, codes]) => {
    const id = `PractitionerRole-${org}-${userId}`;
    return {
      fullUrl: `${baseUrl}/PractitionerRole/${id}`,
      resource: {
        id,
        meta: { lastUpdated: now },
        resourceType: 'PractitionerRole',
        practitioner: { identifier: { system: SDS_USER_SYSTEM, value: userId } },
        organization: { identifier: { system: ODS_ORG_SYSTEM, value: org } },
        code: codes.map((code) => ({ coding: [{ system: BUSINESS_FUNCTION_SYSTEM, code }] })),
      },
      search: { mode: 'match' },
    };
  });
  return searchset(bundleId, now, `${baseUrl}/PractitionerRole`, entry);
}

/**
 * a040: the users at `org` (other than the caller) holding a role profile there that grants
 * SERVICE_PROVIDER_CLINICIAN, by SDS user id.
 */
export async function onBehalfOfUsers(
  store: ResourceStore,
  org: string,
  callerId: string,
): Promise<string[]> {
  const users = new Set<string>();
  for (const r of await directoryRoles(store, 'organization', org)) {
    const user = r.practitioner?.identifier?.value;
    const profile = profileOf(r);
    if (
      user &&
      user !== callerId &&
      profile?.org === org &&
      businessFunctionsOfRole(profile.role).includes('SERVICE_PROVIDER_CLINICIAN')
    )
      users.add(user);
  }
  return [...users].sort();
}

/** a040's answer: a searchset of Practitioners by SDS user id (published PractitionerBundle.json). */
export function practitionerBundle(users: string[], baseUrl: string, bundleId: string) {
  const now = new Date().toISOString();
  const entry = users.map((user) => ({
    fullUrl: `${baseUrl}/Practitioner/${user}`,
    resource: {
      id: user,
      resourceType: 'Practitioner',
      meta: { lastUpdated: now },
      identifier: { system: SDS_USER_SYSTEM, value: user },
    },
    search: { mode: 'match' },
  }));
  return searchset(bundleId, now, `${baseUrl}/Practitioner?_query=onBehalfOf`, entry);
}

function searchset(id: string, now: string, self: string, entry: unknown[]) {
  return {
    id,
    meta: { lastUpdated: now },
    resourceType: 'Bundle',
    type: 'searchset',
    total: entry.length,
    timestamp: now,
    link: [{ relation: 'self', url: self }],
    ...(entry.length ? { entry } : {}),
  };
}
