import type { Bundle, OperationOutcome, Patient } from 'fhir/r4.js';
import { auditRecord } from '../../audit/audit-record.js';
import { AuditWriter } from '../../audit/audit-writer.js';
import { historyBundle, searchsetBundle } from '../../fhir/bundle.js';
import { FhirError, operationOutcome } from '../../fhir/errors.js';
import type { RequestContext } from '../../context.js';
import type { Repository } from '../../store/repository.js';
import type { StoredResource } from '../../store/resource-store.js';
import { checkNhsNumber, type PatientWriteDeps, type VersionedPatient } from './patient-answers.js';
import { mergePatients } from './patient-merge.js';
import { isInvalidated, isRestricted, PATIENT, RELATED_PERSON } from './patient-model.js';
import { registerPatient, type Registration } from './patient-registration.js';
import { patchPatient } from './patient-update.js';
import {
  patientForRead,
  patientForSearch,
  publishedJson,
  relatedPersonForRead,
  withoutEmptyEntry,
} from './patient-views.js';
import { trace } from './trace.js';
import { parseTraceRequest } from './trace-request.js';
import { currentPatient } from './patients.js';

/** Strings whose presence means a stored Patient may need stripping or redirecting before it is shown. */
const NEEDS_FILTERING = /"code":"(R|V|REDACTED)"|"replaced-by"/;

/**
 * The PDS use cases. Every touch of a record is audited; every write commits with its audit entry.
 * The reads are here; the writes are delegated to patient-update.ts, patient-registration.ts and
 * patient-merge.ts, one module per write.
 */
export class PatientService {
  private readonly readAudit: AuditWriter;
  private readonly writeDeps: PatientWriteDeps;

  constructor(
    private readonly repo: Repository,
    audit: AuditWriter,
    private readonly baseUrl: string,
  ) {
    this.readAudit = audit;
    this.writeDeps = { repo, audit };
  }

  private fullUrl(id: string): string {
    return `${this.baseUrl}/Patient/${id}`;
  }

  /** Loads the current record for a number, following merges to the surviving record. */
  private async resolve(nhs: string): Promise<StoredResource<Patient>> {
    const stored = await currentPatient(this.repo, checkNhsNumber(nhs));
    // no diagnostics, as published (mocks/stubs/errorResponses/RESOURCE_NOT_FOUND.json, INVALIDATED_RESOURCE.json)
    if (!stored) throw new FhirError(404, 'RESOURCE_NOT_FOUND', '');
    if (isInvalidated(stored.resource)) throw new FhirError(404, 'INVALIDATED_RESOURCE', '');
    return stored;
  }

  /**
   * Read, answered with the stored JSON untouched when it cannot need any filtering: a document
   * without a restricted, very-restricted or redacted label and without a merge link. The test is
   * conservative (a matching string anywhere sends the record down the full path), so it never
   * lets a restricted or superseded record through unfiltered; it saves a parse and a serialise.
   */
  async readForResponse(
    ctx: RequestContext,
    nhs: string,
  ): Promise<{ json: string; version: number } | VersionedPatient> {
    const raw = await this.repo.readJson(PATIENT, checkNhsNumber(nhs));
    const json = raw && !NEEDS_FILTERING.test(raw.json) ? publishedJson(raw.json) : null;
    if (raw && json !== null) {
      await this.readAudit.append(auditRecord(ctx, 'pds.read', nhs, 'success'));
      return { json, version: raw.version };
    }
    return this.read(ctx, nhs);
  }

  async read(ctx: RequestContext, nhs: string): Promise<VersionedPatient> {
    const stored = await this.resolve(nhs);
    const detail = stored.id !== nhs ? { requested: nhs, supersededBy: stored.id } : undefined;
    await this.readAudit.append(auditRecord(ctx, 'pds.read', stored.id, 'success', detail));
    return { patient: patientForRead(stored.resource), version: stored.version };
  }

  async search(
    ctx: RequestContext,
    query: Record<string, string | string[] | undefined>,
  ): Promise<Bundle | OperationOutcome> {
    const parsed = parseTraceRequest(query);
    // an application-restricted caller (no user present) gets a single match or none: more is
    // TOO_MANY_MATCHES (karate-tests patients/appRestricted/getPatient.feature,
    // common/getPatient.feature@tooManyMatches)
    const req = ctx.principal?.kind === 'application' ? { ...parsed, maxResults: 1 } : parsed;
    const result = await trace(this.repo, req);
    const params = Object.keys(query).sort();
    if (result.kind === 'too-many') {
      await this.readAudit.append(
        auditRecord(ctx, 'pds.search', null, 'too-many-matches', { params }),
      );
      // as published: information, no diagnostics (karate-tests mocks/stubs/searchResponses/TOO_MANY_MATCHES.json)
      return operationOutcome('TOO_MANY_MATCHES', '');
    }
    await this.readAudit.append(
      auditRecord(ctx, 'pds.search', null, 'success', {
        params,
        fuzzy: req.fuzzy,
        matches: result.matches.length,
      }),
      ...result.matches.map((m) =>
        auditRecord(ctx, 'pds.search.match', m.patient.id!, 'success', { score: m.score }),
      ),
    );
    return withoutEmptyEntry(
      searchsetBundle(
        result.matches.map((m) => ({
          resource: patientForSearch(m.patient),
          fullUrl: this.fullUrl(m.patient.id!),
          score: m.score,
        })),
      ),
    );
  }

  async patch(
    ctx: RequestContext,
    nhs: string,
    expectedVersion: number,
    body: unknown,
  ): Promise<VersionedPatient> {
    return patchPatient(this.writeDeps, ctx, nhs, expectedVersion, body);
  }

  /** Birth registration: a new record under a newly allocated, never-used NHS Number. */
  async register(ctx: RequestContext, body: unknown): Promise<Registration> {
    return registerPatient(this.writeDeps, ctx, body);
  }

  /** Supersedes the source number by the target; both histories stay, reads of the source lead to the target. */
  async merge(ctx: RequestContext, body: unknown): Promise<VersionedPatient> {
    return mergePatients(this.writeDeps, ctx, body);
  }

  async relatedPersons(ctx: RequestContext, nhs: string): Promise<Bundle> {
    const stored = await this.resolve(nhs);
    await this.readAudit.append(auditRecord(ctx, 'pds.related-person.read', stored.id, 'success'));
    // a restricted patient's related people could reveal where they are: PDS returns none
    if (isRestricted(stored.resource)) return withoutEmptyEntry(searchsetBundle([]));
    const ids = await this.repo.search({
      type: RELATED_PERSON,
      criteria: [{ any: [{ param: 'patient', op: 'eq', value: stored.id }] }],
      limit: 100,
    });
    const people = await this.repo.readMany(RELATED_PERSON, ids);
    return withoutEmptyEntry(
      searchsetBundle(
        people.map((p) => ({
          resource: relatedPersonForRead(p.resource),
          fullUrl: `${this.fullUrl(stored.id)}/RelatedPerson/${p.id}`,
        })),
      ),
    );
  }

  async history(ctx: RequestContext, nhs: string): Promise<Bundle> {
    const versions = await this.repo.history(PATIENT, checkNhsNumber(nhs));
    if (versions.length === 0)
      throw new FhirError(404, 'RESOURCE_NOT_FOUND', `Patient '${nhs}' not found`);
    await this.readAudit.append(
      auditRecord(ctx, 'pds.history.read', nhs, 'success', { versions: versions.length }),
    );
    // the current label governs every version: a record restricted now hides old addresses too
    const label = versions[0].resource.meta?.security;
    return historyBundle(
      versions.map((v) => ({
        resource: patientForRead({ ...v.resource, meta: { ...v.resource.meta, security: label } }),
        fullUrl: this.fullUrl(nhs),
        version: v.version,
        lastUpdated: v.lastUpdated,
        method: v.version === 1 ? 'POST' : 'PATCH',
      })),
    );
  }
}
