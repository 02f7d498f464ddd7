/**
 * Directory management writes (activity 'directory.manage'): create and versioned update of
 * HealthcareService, PractitionerRole and Endpoint. Each write is validated, its references checked
 * against the directory (the organisation must exist: 422 INVALID_REFERENCE otherwise), refused when
 * it would duplicate another resource (409 DUPLICATE_REJECTED), and committed with its audit entry
 * and its X-Request-ID record, so a retried request gets the original answer instead of a twin.
 * Organizations are not written here: they come from the ODS extracts (ods-import.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Endpoint, HealthcareService, Organization, PractitionerRole } from 'fhir/r4.js';
import { auditRecord } from '../../audit/audit-record.js';
import { FhirError, versionMismatch } from '../../fhir/errors.js';
import type { RequestContext } from '../../context.js';
import { writeOnce, type EarlierAnswer, type RecordRequest } from '../write-once.js';
import {
  resourceType,
  type IndexEntry,
  type StoredResource,
  type ResourceStore,
} from '../../store/resource-store.js';
import { buildEndpoint, ENDPOINT, indexEndpoint } from './endpoint-model.js';
import { validateEndpoint } from './endpoint-rules.js';
import {
  addressOf,
  buildHealthcareService,
  HEALTHCARE_SERVICE,
  indexHealthcareService,
  validateHealthcareService,
} from './healthcare-service-model.js';
import { ORGANIZATION } from './organization-model.js';
import {
  buildPractitionerRole,
  indexPractitionerRole,
  PRACTITIONER_ROLE,
  roleKey,
  rolesWithKey,
  validatePractitionerRole,
} from './practitioner-role-model.js';
import { RESOURCE_ID } from './resource-rules.js';

/** What the writer needs to know about one writable resource type. */
interface WritableKind {
  /** Checks the body; returns the document to store (given the provider organisation) and what it points at. */
  prepare(
    body: unknown,
    id: string,
  ): { org: string; endpoints: string[]; build: (org: Organization) => Record<string, any> };
  index(resource: Record<string, any>): IndexEntry[];
  /** Ids of other resources this one would duplicate. */
  twins?(repo: ResourceStore, resource: Record<string, any>): Promise<string[]>;
}

const KINDS: Record<string, WritableKind> = {
  [HEALTHCARE_SERVICE]: {
    prepare(body, id) {
      const f = validateHealthcareService(body, id);
      return {
        org: f.org,
        endpoints: f.endpoints,
        build: (org) => buildHealthcareService({ ...f, address: f.address ?? addressOf(org) }),
      };
    },
    index: (r) => indexHealthcareService(r as HealthcareService),
  },
  [PRACTITIONER_ROLE]: {
    prepare(body, id) {
      const f = validatePractitionerRole(body, id);
      return { org: f.org, endpoints: f.endpoints, build: () => buildPractitionerRole(f) };
    },
    index: (r) => indexPractitionerRole(r as PractitionerRole),
    twins: (repo, r) =>
      rolesWithKey(
        repo,
        roleKey(
          r.practitioner.identifier.value,
          r.organization.identifier.value,
          r.code[0].coding[0].code,
        ),
      ),
  },
  [ENDPOINT]: {
    prepare(body, id) {
      const f = validateEndpoint(body, id);
      return { org: f.org, endpoints: [], build: () => buildEndpoint(f) };
    },
    index: (r) => indexEndpoint(r as Endpoint),
    // one Endpoint per (organisation, address), as `directory endpoint add` keeps it
    twins: (repo, r) =>
      repo.search({
        type: ENDPOINT,
        limit: 2,
        criteria: [
          {
            any: [
              { param: 'organization', op: 'eq', value: r.managingOrganization.identifier.value },
            ],
          },
          { any: [{ param: 'address', op: 'eq', value: r.address }] },
        ],
      }),
  },
};

export const WRITABLE_TYPES = Object.keys(KINDS);

export interface WriteResult {
  stored: StoredResource;
  status: 200 | 201;
}

export class DirectoryWriter {
  constructor(private readonly repo: ResourceStore) {}

  async create(ctx: RequestContext, type: string, body: unknown): Promise<WriteResult> {
    return writeOnce(this.repo, ctx, {
      answers: resourceType(type),
      asBefore: answerAsBefore,
      write: ({ record }) => this.write(ctx, type, randomUUID(), 0, body, 'create', record),
    });
  }

  async update(
    ctx: RequestContext,
    type: string,
    id: string,
    expectedVersion: number,
    body: unknown,
  ): Promise<WriteResult> {
    if (!RESOURCE_ID.test(id))
      throw new FhirError(400, 'INVALID_RESOURCE_ID', `Invalid resource ID - '${id.slice(0, 64)}'`);
    return writeOnce(this.repo, ctx, {
      answers: resourceType(type),
      asBefore: answerAsBefore,
      write: async ({ record }) => {
        const bodyId = (body as { id?: unknown } | null)?.id;
        if (bodyId !== undefined && bodyId !== id)
          throw new FhirError(
            400,
            'INVALID_VALUE',
            `Invalid value - the body's id '${String(bodyId).slice(0, 64)}' is not the id in the path '${id}'`,
          );
        const current = await this.repo.read(type, id);
        if (!current)
          throw new FhirError(404, 'RESOURCE_NOT_FOUND', `${type} '${id}' is not in the directory`);
        // a version moved by a twin of this very request (same X-Request-ID) is answered as it was
        if (current.version !== expectedVersion) throw versionMismatch();
        return this.write(ctx, type, id, expectedVersion, body, 'update', record);
      },
    });
  }

  private async write(
    ctx: RequestContext,
    type: string,
    id: string,
    expectedVersion: number,
    body: unknown,
    op: 'create' | 'update',
    record: RecordRequest,
  ): Promise<WriteResult> {
    const kind = KINDS[type];
    const prepared = kind.prepare(body, id);
    const org = await this.repo.read(ORGANIZATION, prepared.org);
    if (!org)
      throw new FhirError(
        422,
        'INVALID_REFERENCE',
        `Invalid reference - Organization '${prepared.org}' is not in the directory`,
      );
    if (prepared.endpoints.length) {
      const found = new Set(
        (await this.repo.readMany(ENDPOINT, prepared.endpoints)).map((s) => s.id),
      );
      const unknown = prepared.endpoints.filter((e) => !found.has(e));
      if (unknown.length)
        throw new FhirError(
          422,
          'INVALID_REFERENCE',
          `Invalid reference - Endpoint '${unknown[0].slice(0, 64)}' is not in the directory`,
        );
    }
    const resource = prepared.build(org.resource);
    const twins = ((await kind.twins?.(this.repo, resource)) ?? []).filter((t) => t !== id);
    if (twins.length)
      throw new FhirError(
        409,
        'DUPLICATE_REJECTED',
        `Create would lead to a duplicate - ${type}/${twins[0]} already holds this ${type === ENDPOINT ? 'organisation and address' : 'user, organisation and role'}`,
      );
    const status = op === 'create' ? 201 : 200;
    const [stored] = await this.repo.commit({
      resources: [{ type, id, expectedVersion, resource, index: kind.index(resource) }],
      audit: [
        auditRecord(
          ctx,
          `directory.manage.${op}`,
          null,
          'success',
          { resourceType: type, id, version: expectedVersion + 1, org: prepared.org },
          { type: 'directory' },
        ),
      ],
      request: record({
        status,
        resourceType: type,
        resourceId: id,
        version: expectedVersion + 1,
      }),
    });
    return { stored, status };
  }
}

/** The original answer to a request whose X-Request-ID has been processed before (../write-once.ts). */
const answerAsBefore = ({ stored, record }: EarlierAnswer): WriteResult => ({
  stored,
  status: record.status === 201 ? 201 : 200,
});
