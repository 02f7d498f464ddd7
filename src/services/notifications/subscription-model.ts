import type { Endpoint, Subscription } from 'fhir/r4.js';
import { FhirError } from '../../fhir/errors.js';
import { resourceType, type IndexEntry, type ResourceStore } from '../../store/resource-store.js';
import { parseCriteria, routeKey, type ParsedCriteria } from './criteria.js';
import { ODS_SYSTEM } from '../../fhir/identifiers.js';

/**
 * Subscriptions as stored: a FHIR R4 Subscription whose owning organisation (the subscriber's ODS
 * code, from its token) is an extension. Its index carries the owner (for listing), its id (for
 * paging the router's look-up) and, while active, one route key per (event code, scope) so the
 * router finds the subscriptions of an event by index equality, never by scanning them all.
 */

export const SUBSCRIPTION = resourceType<Subscription>('Subscription');
export const OWNER_EXTENSION = 'https://openspine.dev/StructureDefinition/subscription-owner';
export const FHIR_JSON_PAYLOAD = 'application/fhir+json';

export type ChannelType = 'rest-hook' | 'message';

const ENDPOINT_REFERENCE = /^Endpoint\/([A-Za-z0-9\-.]{1,64})$/;
const MAX_REASON = 500;

const invalid = (why: string) => new FhirError(400, 'INVALID_VALUE', `Invalid value - ${why}`);

export function ownerOf(subscription: Subscription): string | undefined {
  return subscription.extension?.find((e) => e.url === OWNER_EXTENSION)?.valueIdentifier?.value;
}

export function criteriaOf(subscription: Subscription): ParsedCriteria {
  return parseCriteria(subscription.criteria);
}

export function indexSubscription(subscription: Subscription): IndexEntry[] {
  const rows: IndexEntry[] = [
    { param: 'owner', value: ownerOf(subscription) ?? '' },
    { param: 'sid', value: subscription.id! },
    { param: 'status', value: subscription.status },
  ];
  if (subscription.status === 'active') {
    const { events, scope } = criteriaOf(subscription);
    for (const event of events) rows.push({ param: 'route', value: routeKey(event, scope) });
  }
  return rows;
}

/**
 * Checks a Subscription a client asks for and returns what to store (active, owned by `owner`).
 * A rest-hook endpoint is an http(s) URL, or a reference 'Endpoint/<id>' to a directory Endpoint of
 * the subscriber's own organisation; a 'message' channel is a pull mailbox and needs no endpoint.
 */
export async function subscriptionToStore(
  repo: ResourceStore,
  body: unknown,
  id: string,
  owner: string,
): Promise<Subscription> {
  const input = body as Partial<Subscription> | null;
  if (
    !input ||
    typeof input !== 'object' ||
    Array.isArray(input) ||
    input.resourceType !== 'Subscription'
  )
    throw invalid('the body must be a Subscription');
  for (const forbidden of ['id', 'meta'] as const)
    if (input[forbidden] !== undefined)
      throw invalid(`'${forbidden}' is assigned by the server and must not be supplied`);
  if (input.status !== 'requested')
    throw invalid(`'status' must be 'requested', not '${String(input.status).slice(0, 20)}'`);
  if (
    typeof input.reason !== 'string' ||
    input.reason.trim() === '' ||
    input.reason.length > MAX_REASON
  )
    throw invalid(`'reason' must be a non-empty string of at most ${MAX_REASON} characters`);
  const parsed = parseCriteria(input.criteria);
  if (parsed.scope.kind !== 'patient' && parsed.scope.ods !== owner) {
    throw new FhirError(
      403,
      'ACCESS_DENIED',
      `An organisation-wide subscription may only name your own organisation (${owner || '(none)'}), not ${parsed.scope.ods}`,
    );
  }
  if (
    input.end !== undefined &&
    (typeof input.end !== 'string' || Number.isNaN(Date.parse(input.end)))
  )
    throw invalid("'end' must be an instant");
  const channel = input.channel;
  if (!channel || typeof channel !== 'object')
    throw new FhirError(400, 'MISSING_VALUE', "Missing value - 'channel' is required");
  if (channel.type !== 'rest-hook' && channel.type !== 'message')
    throw invalid(
      `channel type '${String(channel.type).slice(0, 20)}' is not supported; use 'rest-hook' or 'message' (a mailbox)`,
    );
  if (channel.payload !== undefined && channel.payload !== FHIR_JSON_PAYLOAD)
    throw invalid(`channel payload must be '${FHIR_JSON_PAYLOAD}'`);
  if (channel.header !== undefined)
    throw invalid(
      "'channel.header' is not supported; authenticate deliveries by their X-Signature",
    );
  let endpoint: string | undefined;
  if (channel.type === 'rest-hook') endpoint = await checkEndpoint(repo, channel.endpoint, owner);
  else if (channel.endpoint !== undefined && typeof channel.endpoint !== 'string')
    throw invalid("'channel.endpoint' must be a string");

  return {
    resourceType: 'Subscription',
    id,
    status: 'active',
    reason: input.reason,
    criteria: input.criteria!,
    ...(input.end ? { end: new Date(input.end).toISOString() } : {}),
    channel: { type: channel.type, ...(endpoint ? { endpoint } : {}), payload: FHIR_JSON_PAYLOAD },
    extension: [{ url: OWNER_EXTENSION, valueIdentifier: { system: ODS_SYSTEM, value: owner } }],
  };
}

async function checkEndpoint(
  repo: ResourceStore,
  endpoint: unknown,
  owner: string,
): Promise<string> {
  if (typeof endpoint !== 'string' || endpoint === '')
    throw new FhirError(
      400,
      'MISSING_VALUE',
      "Missing value - a rest-hook channel needs 'channel.endpoint'",
    );
  const ref = ENDPOINT_REFERENCE.exec(endpoint);
  if (ref) {
    const stored = await repo.read('Endpoint', ref[1]);
    const directory = stored?.resource as Endpoint | undefined;
    if (!directory || directory.status !== 'active')
      throw invalid(`'${endpoint}' is not an active Endpoint in the directory`);
    if (directory.managingOrganization?.identifier?.value !== owner)
      throw new FhirError(403, 'ACCESS_DENIED', `'${endpoint}' belongs to another organisation`);
    return endpoint;
  }
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw invalid(
      `'channel.endpoint' must be an http(s) URL or an 'Endpoint/<id>' reference, not '${endpoint.slice(0, 80)}'`,
    );
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username || url.password)
    throw invalid("'channel.endpoint' must be an http(s) URL without credentials");
  return url.toString();
}

/** Where a rest-hook delivery goes now: the URL itself, or the address of the directory Endpoint it names. */
export async function deliveryAddress(
  repo: ResourceStore,
  subscription: Subscription,
): Promise<string | null> {
  const endpoint = subscription.channel.endpoint;
  if (!endpoint) return null;
  const ref = ENDPOINT_REFERENCE.exec(endpoint);
  if (!ref) return endpoint;
  const directory = (await repo.read<Endpoint>('Endpoint', ref[1]))?.resource;
  return directory?.status === 'active' &&
    directory.managingOrganization?.identifier?.value === ownerOf(subscription)
    ? directory.address
    : null;
}
