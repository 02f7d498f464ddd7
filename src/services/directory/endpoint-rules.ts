/**
 * Endpoints written through the API: the body is checked and rebuilt in the directory's one
 * Endpoint shape (see endpoint-model.ts), so an Endpoint registered by the CLI, the seed or a
 * client looks and indexes the same.
 */
import type { Endpoint } from 'fhir/r4.js';
import { isObject } from '../../fhir/json-shape.js';
import { ENDPOINT, INTERACTION, INTERACTION_SYSTEM, type EndpointFacts } from './endpoint-model.js';
import {
  badCode,
  invalid,
  list,
  missing,
  odsReference,
  resourceBody,
  text,
} from './resource-rules.js';

const STATUSES = ['active', 'suspended', 'error', 'off', 'entered-in-error', 'test'] as const;

/** An http(s) URL, or undefined. */
export function endpointUrl(address: string): URL | undefined {
  try {
    const url = new URL(address);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url : undefined;
  } catch {
    return undefined;
  }
}

// connectionType and payloadType are accepted and replaced by the directory's own (FHIR REST, any payload)
const ALLOWED = [
  'resourceType',
  'id',
  'meta',
  'identifier',
  'status',
  'connectionType',
  'name',
  'managingOrganization',
  'payloadType',
  'address',
];

export function validateEndpoint(body: unknown, id: string): EndpointFacts {
  const b = resourceBody(body, ENDPOINT, ALLOWED);
  const address = text(b, 'address', { required: true, max: 500 })!;
  const url = endpointUrl(address);
  if (!url) throw invalid('address', 'expected an https:// URL');
  const interactions = list(b, 'identifier', { required: true, max: 50 }).map((i, n) => {
    if (!isObject(i) || i.system !== INTERACTION_SYSTEM || typeof i.value !== 'string')
      throw badCode(`identifier[${n}]`, `expected an interaction id under ${INTERACTION_SYSTEM}`);
    if (!INTERACTION.test(i.value))
      throw invalid(`identifier[${n}].value`, `'${i.value.slice(0, 60)}' is not an interaction id`);
    return i.value;
  });
  const status = b.status ?? 'active';
  if (typeof status !== 'string' || !(STATUSES as readonly string[]).includes(status))
    throw badCode('status', `expected one of ${STATUSES.join(', ')}`);
  if (b.managingOrganization === undefined) throw missing('managingOrganization');
  return {
    id,
    org: odsReference(b.managingOrganization, 'managingOrganization'),
    address,
    name: text(b, 'name') ?? url.host,
    interactions,
    status: status as Endpoint['status'],
  };
}
