/**
 * The R4 HealthcareService reads (a033 retrieve, a037 its version, a035 search by _id) over the
 * directory's services that have an e-RS profile: a service without one is not an e-RS service and
 * is answered as unknown. Services are read through the store with the directory's exported
 * HEALTHCARE_SERVICE type; nothing about a patient is read, so nothing is audited.
 */
import type { HealthcareService } from 'fhir/r4.js';
import type { ResourceStore, StoredResource } from '../../store/resource-store.js';
import { ersProfileOf, HEALTHCARE_SERVICE } from '../directory/index.js';
import { badRequest, notFound } from './r4-errors.js';
import { ersServiceView, type ErsHealthcareService } from './r4-service-views.js';

/** A FHIR logical id (as the directory stores its services under). */
const SERVICE_ID = /^[A-Za-z0-9\-.]{1,64}$/;
/** a035: "an attempt to request more than 20 Service Ids" is refused. */
export const MAX_SEARCH_IDS = 20;
/** The query parameters a035 publishes. */
export const SERVICE_SEARCH_PARAMS = ['_id'] as const;

type Query = Record<string, string | string[] | undefined>;

/**
 * a035's query: `_id` (required) naming 1-20 service ids, comma-separated and/or repeated; any other
 * parameter, an empty or malformed id, or more than 20 ids is 400 REC_BAD_REQUEST.
 */
export function parseServiceSearch(query: Query): string[] {
  const unknown = Object.keys(query).filter(
    (k) => !(SERVICE_SEARCH_PARAMS as readonly string[]).includes(k),
  );
  if (unknown.length)
    throw badRequest(
      `Unsupported search parameter(s): ${unknown
        .map((k) => k.slice(0, 40))
        .join(', ')}; only _id is supported`,
    );
  const raw = query._id;
  if (raw === undefined) throw badRequest('The _id search parameter is required');
  const ids = [raw]
    .flat()
    .flatMap((v) => String(v).split(','))
    .map((v) => v.trim());
  const bad = ids.find((id) => !SERVICE_ID.test(id));
  if (bad !== undefined) throw badRequest(`'${bad.slice(0, 40)}' is not a valid service id`);
  const distinct = [...new Set(ids)];
  if (distinct.length > MAX_SEARCH_IDS)
    throw badRequest(
      `At most ${MAX_SEARCH_IDS} service ids may be requested; ${distinct.length} were given`,
    );
  return distinct;
}

export class R4ServiceReads {
  constructor(private readonly store: ResourceStore) {}

  /** a033 / a037: the current version of an e-RS service, or 404 REC_NOT_FOUND. */
  async read(id: string): Promise<ErsHealthcareService> {
    const stored = SERVICE_ID.test(id) ? await this.store.read(HEALTHCARE_SERVICE, id) : null;
    const view = stored && viewOf(stored);
    if (!view) throw notFound(`No e-RS service with id ${id.slice(0, 64)}`);
    return view;
  }

  /** a035: the e-RS services among `ids`, in the order asked; unknown ids are left out. */
  async search(ids: string[]): Promise<ErsHealthcareService[]> {
    const found = new Map(
      (await this.store.readMany(HEALTHCARE_SERVICE, ids)).map((s) => [s.id, s]),
    );
    return ids.flatMap((id) => {
      const stored = found.get(id);
      const view = stored && viewOf(stored);
      return view ? [view] : [];
    });
  }
}

function viewOf(stored: StoredResource<HealthcareService>): ErsHealthcareService | undefined {
  const profile = ersProfileOf(stored.resource);
  return profile ? ersServiceView(stored, profile) : undefined;
}
