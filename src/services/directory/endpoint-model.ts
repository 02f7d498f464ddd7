/**
 * Directory Endpoints: a system of an organisation, the interactions it accepts and its address.
 * Represented as the Spine Directory FHIR API does: each interaction is an identifier under
 * https://fhir.nhs.uk/Id/nhsServiceInteractionId, the system's name is Endpoint.name, and the
 * organisation is managingOrganization by ODS identifier. One Endpoint per (organisation, address):
 * registering another interaction at the same address adds it to that Endpoint.
 */
import { randomUUID } from 'node:crypto';
import type { Endpoint } from 'fhir/r4.js';
import { resourceType, type IndexEntry, type ResourceStore } from '../../store/resource-store.js';
import { ODS_CODE, ORGANIZATION, orgReference } from './organization-model.js';
import { ODS_SYSTEM } from '../../fhir/identifiers.js';

export const ENDPOINT = resourceType<Endpoint>('Endpoint');
export const INTERACTION_SYSTEM = 'https://fhir.nhs.uk/Id/nhsServiceInteractionId';
export const INTERACTION = /^[A-Za-z0-9:._\-/]{3,200}$/;

export class EndpointError extends Error {}

export function indexEndpoint(endpoint: Endpoint): IndexEntry[] {
  const rows: IndexEntry[] = [];
  const org = endpoint.managingOrganization?.identifier?.value;
  if (org) rows.push({ param: 'organization', value: org });
  for (const id of endpoint.identifier ?? [])
    if (id.system === INTERACTION_SYSTEM && id.value)
      rows.push({ param: 'interaction', value: id.value });
  if (endpoint.address) rows.push({ param: 'address', value: endpoint.address });
  return rows;
}

export interface EndpointFacts {
  id: string;
  org: string;
  address: string;
  name: string;
  interactions: string[];
  status: Endpoint['status'];
}

/** The directory's one Endpoint shape, whoever registers it (CLI, seed, API). */
export function buildEndpoint(f: EndpointFacts): Endpoint {
  return {
    resourceType: 'Endpoint',
    id: f.id,
    identifier: [...new Set(f.interactions)]
      .sort()
      .map((value) => ({ system: INTERACTION_SYSTEM, value })),
    status: f.status,
    connectionType: {
      system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type',
      code: 'hl7-fhir-rest',
    },
    name: f.name,
    managingOrganization: {
      ...orgReference(f.org),
      identifier: { system: ODS_SYSTEM, value: f.org },
    },
    payloadType: [
      {
        coding: [
          { system: 'http://terminology.hl7.org/CodeSystem/endpoint-payload-type', code: 'any' },
        ],
      },
    ],
    address: f.address,
  };
}

export interface EndpointRegistration {
  org: string;
  interaction: string;
  address: string;
  name?: string;
}

/** Registers an interaction of an organisation's endpoint; returns the endpoint and whether anything changed. */
export async function addEndpoint(
  repo: ResourceStore,
  reg: EndpointRegistration,
): Promise<{ endpoint: Endpoint; changed: boolean }> {
  const org = reg.org.toUpperCase();
  if (!ODS_CODE.test(org)) throw new EndpointError(`invalid ODS code '${reg.org}'`);
  if (!INTERACTION.test(reg.interaction))
    throw new EndpointError(`invalid interaction code '${reg.interaction}'`);
  let url: URL;
  try {
    url = new URL(reg.address);
  } catch {
    throw new EndpointError(`invalid address '${reg.address}' (expected an https:// URL)`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new EndpointError(`invalid address '${reg.address}' (expected an https:// URL)`);
  if (!(await repo.read(ORGANIZATION, org)))
    throw new EndpointError(`organisation ${org} is not in the directory`);

  const [existingId] = await repo.search({
    type: ENDPOINT,
    criteria: [
      { any: [{ param: 'organization', op: 'eq', value: org }] },
      { any: [{ param: 'address', op: 'eq', value: reg.address }] },
    ],
    limit: 1,
  });
  const existing = existingId ? await repo.read(ENDPOINT, existingId) : null;
  const current = existing?.resource;
  const interactions = new Set(
    (current?.identifier ?? []).filter((i) => i.system === INTERACTION_SYSTEM).map((i) => i.value!),
  );
  const name = reg.name ?? current?.name ?? url.host;
  if (current && interactions.has(reg.interaction) && current.name === name)
    return { endpoint: current, changed: false };
  interactions.add(reg.interaction);
  const endpoint = buildEndpoint({
    id: existing?.id ?? randomUUID(),
    org,
    address: reg.address,
    name,
    interactions: [...interactions],
    status: current?.status ?? 'active',
  });
  await repo.commit({
    resources: [
      {
        type: ENDPOINT,
        id: endpoint.id!,
        expectedVersion: existing?.version ?? 0,
        resource: endpoint,
        index: indexEndpoint(endpoint),
      },
    ],
    audit: [
      {
        time: new Date().toISOString(),
        requestId: 'directory-endpoint-add',
        userId: 'openspine-cli',
        role: 'system',
        org: 'OPENSPINE',
        patient: null,
        action: 'directory.endpoint.add',
        outcome: 'success',
        detail: { org, interaction: reg.interaction },
      },
    ],
  });
  return { endpoint, changed: true };
}
