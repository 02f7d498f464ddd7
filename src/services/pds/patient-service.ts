import type { Bundle, OperationOutcome, Parameters, Patient } from 'fhir/r4.js';
import { randomInt } from 'node:crypto';
import { auditRecord } from '../../audit/audit-record.js';
import { AuditWriter } from '../../audit/audit-writer.js';
import { historyBundle, searchsetBundle } from '../../fhir/bundle.js';
import { FhirError, operationOutcome, versionMismatch } from '../../fhir/errors.js';
import { randomSyntheticNhsNumber, requireNhsNumber } from '../../fhir/nhs-number.js';
import type { RequestContext } from '../../context.js';
import { writeOnce, type EarlierAnswer } from '../write-once.js';
import { VersionConflictError } from '../../store/errors.js';
import type { Repository } from '../../store/repository.js';
import type { StoredResource } from '../../store/resource-store.js';
import { birthEvents, mergeEvents, updateEvents } from './patient-events.js';
import { indexPatient } from './patient-index.js';
import {
  isInvalidated,
  isRestricted,
  PATIENT,
  RELATED_PERSON,
  replacedBy,
  SECURITY_LABEL_SYSTEM,
} from './patient-model.js';
import { NHS_NUMBER_SYSTEM } from '../../fhir/identifiers.js';
import { applyPatientPatch, parsePatchBody } from './patient-patch.js';
import { validatePatient } from './patient-rules.js';
import {
  inShownOrder,
  patientForRead,
  patientForSearch,
  publishedJson,
  relatedPersonForRead,
  withoutEmptyEntry,
} from './patient-views.js';
import { supersededIndexRows, trace } from './trace.js';
import { parseTraceRequest } from './trace-request.js';
import { currentPatient } from './patients.js';
import { publishedOutcome, type PublishedIssue } from './published-errors.js';

/**
 * A new record refused because its demographics are already held (status 200), exactly as NHS England
 * publishes it (karate-tests mocks/stubs/postPatientResponses/SINGLE_MATCH_FOUND.json and
 * MULTIPLE_MATCHES_FOUND.json, answered by POST /Patient and by $process-birth-details alike).
 */
export const DEMOGRAPHIC_MATCH = {
  single: (nhs: string): PublishedIssue => ({
    code: 'SINGLE_MATCH',
    display: 'Single match found',
    issueCode: 'value',
    diagnostics: `Unable to create new patient. NHS number ${nhs} found for supplied demographic data.`,
  }),
  multiple: (): PublishedIssue => ({
    code: 'MULTIPLE_MATCHES',
    display: 'Multiple matches found',
    issueCode: 'value',
    diagnostics:
      'Unable to create new patient. Multiple matches found for supplied demographic data.',
  }),
};

export interface VersionedPatient {
  patient: Patient;
  version: number;
}

/** A birth registration: the record made, or the demographic match that refused it (status 200). */
export type Registration =
  { created: true; patient: VersionedPatient } | { created: false; outcome: OperationOutcome };

/** Strings whose presence means a stored Patient may need stripping or redirecting before it is shown. */
const NEEDS_FILTERING = /"code":"(R|V|REDACTED)"|"replaced-by"/;

export function checkNhsNumber(value: string): string {
  // no diagnostics, as published (karate-tests mocks/stubs/errorResponses/INVALID_RESOURCE_ID.json)
  return requireNhsNumber(value, undefined, { diagnostics: '' });
}

function nhsIdentifier(nhs: string) {
  return [
    {
      system: NHS_NUMBER_SYSTEM,
      value: nhs,
      extension: [
        {
          url: 'https://fhir.nhs.uk/R4/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus',
          valueCodeableConcept: {
            coding: [
              {
                system: 'https://fhir.nhs.uk/R4/CodeSystem/UKCore-NHSNumberVerificationStatus',
                version: '1.0.0',
                code: '01',
                display: 'Number present and verified',
              },
            ],
          },
        },
      ],
    },
  ];
}

/** The PDS use cases. Every touch of a record is audited; every write commits with its audit entry. */
export class PatientService {
  private readonly readAudit: AuditWriter;

  constructor(
    private readonly repo: Repository,
    audit: AuditWriter,
    private readonly baseUrl: string,
  ) {
    this.readAudit = audit;
  }

  private fullUrl(id: string): string {
    return `${this.baseUrl}/Patient/${id}`;
  }

  /**
   * A write retried with the X-Request-ID of one already processed gets the original answer, as
   * PDS asks clients to retry (so does a twin that lost the race); the same id on a different
   * request is refused (../write-once.ts).
   */
  private async answerAsBefore(
    ctx: RequestContext,
    action: string,
    earlier: EarlierAnswer,
  ): Promise<VersionedPatient> {
    await this.readAudit.append(
      auditRecord(ctx, `${action}.replay`, earlier.stored.id, 'replayed'),
    );
    return {
      patient: patientForRead(earlier.stored.resource as Patient),
      version: earlier.stored.version,
    };
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
    const ops = parsePatchBody(body);
    checkNhsNumber(nhs);
    return writeOnce(this.repo, ctx, {
      asBefore: (earlier) => this.answerAsBefore(ctx, 'pds.update', earlier),
      write: async ({ record }) => {
        const stored = await this.repo.read(PATIENT, nhs);
        // no diagnostics, as published (requestErrors.feature "Patient not found",
        // mocks/stubs/errorResponses/RESOURCE_NOT_FOUND.json)
        if (!stored) throw new FhirError(404, 'RESOURCE_NOT_FOUND', '');
        if (isInvalidated(stored.resource)) throw new FhirError(404, 'INVALIDATED_RESOURCE', '');
        const survivor = replacedBy(stored.resource);
        if (survivor)
          throw new FhirError(
            400,
            'INVALID_UPDATE',
            `Invalid update with error - NHS Number '${nhs}' has been superseded by '${survivor}'; update that record`,
          );
        // the version may have moved because a twin of this very request has just committed: answered as it was
        if (stored.version !== expectedVersion) throw versionMismatch();
        // indices in the patch are those of the record as the caller read it (views.ts puts home first)
        const patched = applyPatientPatch(inShownOrder(stored.resource), ops, {
          patientAccess: ctx.principal?.kind === 'patient',
        });
        // values a PATCH replaces leave the document but stay findable by a `_history=true` search
        const earlier = (await this.repo.history(PATIENT, nhs)).map((v) => v.resource);
        const index = [...indexPatient(patched), ...supersededIndexRows(earlier, patched)];
        const [saved] = await this.repo.commit({
          resources: [{ type: PATIENT, id: nhs, expectedVersion, resource: patched, index }],
          audit: [
            auditRecord(ctx, 'pds.update', nhs, 'success', {
              paths: ops.map((o) => `${o.op} ${o.path}`),
            }),
          ],
          messages: updateEvents(
            stored.resource,
            patched,
            expectedVersion + 1,
            new Date().toISOString(),
          ),
          request: record({
            status: 200,
            resourceType: PATIENT,
            resourceId: nhs,
            version: expectedVersion + 1,
          }),
        });
        return { patient: patientForRead(saved.resource), version: saved.version };
      },
    });
  }

  /** Birth registration: a new record under a newly allocated, never-used NHS Number. */
  async register(ctx: RequestContext, body: unknown): Promise<Registration> {
    if (!body || typeof body !== 'object' || Array.isArray(body))
      throw new FhirError(400, 'INVALID_VALUE', 'Invalid value - the body must be a Patient');
    return writeOnce<Registration>(this.repo, ctx, {
      asBefore: async (earlier) => ({
        created: true,
        patient: await this.answerAsBefore(ctx, 'pds.create', earlier),
      }),
      write: async ({ record, twin }) => {
        const input = { resourceType: 'Patient', ...(body as Record<string, unknown>) } as Patient;
        for (const forbidden of ['id', 'identifier', 'meta', 'link'] as const) {
          if (input[forbidden] !== undefined)
            throw new FhirError(
              400,
              'INVALID_VALUE',
              `Invalid value - '${forbidden}' is assigned by PDS and must not be supplied`,
            );
        }
        if (input.deceasedDateTime !== undefined)
          throw new FhirError(
            400,
            'INVALID_VALUE',
            "Invalid value - a birth registration cannot carry 'deceasedDateTime'",
          );
        validatePatient(input, { mode: 'create' });
        const duplicates = await this.likelyDuplicates(input);
        if (duplicates.length > 0) {
          // the "duplicate" may be this very request's record, committed by a twin a moment ago
          const answered = await twin();
          if (answered) return answered;
          await this.repo.commit({
            audit: [
              auditRecord(
                ctx,
                'pds.create',
                duplicates.length === 1 ? duplicates[0] : null,
                'duplicate',
                { matches: duplicates },
              ),
            ],
          });
          return {
            created: false,
            outcome: publishedOutcome(
              duplicates.length === 1
                ? DEMOGRAPHIC_MATCH.single(duplicates[0])
                : DEMOGRAPHIC_MATCH.multiple(),
            ),
          };
        }
        for (let attempt = 0; attempt < 20; attempt++) {
          const nhs = randomSyntheticNhsNumber(() => randomInt(0, 2 ** 32) / 2 ** 32);
          const patient: Patient = {
            ...input,
            id: nhs,
            identifier: nhsIdentifier(nhs),
            meta: {
              security: [{ system: SECURITY_LABEL_SYSTEM, code: 'U', display: 'unrestricted' }],
            },
            name: input.name!.map((n, i) => ({ id: n.id ?? `N${i + 1}`, ...n })),
            address: input.address?.map((a, i) => ({ ...a, id: a.id ?? `A${i + 1}` })),
            telecom: input.telecom?.map((t, i) => ({ ...t, id: t.id ?? `T${i + 1}` })),
          };
          try {
            const [saved] = await this.repo.commit({
              resources: [
                {
                  type: PATIENT,
                  id: nhs,
                  expectedVersion: 0,
                  resource: patient,
                  index: indexPatient(patient),
                },
              ],
              audit: [auditRecord(ctx, 'pds.create', nhs, 'success')],
              messages: birthEvents(patient, new Date().toISOString()),
              request: record({
                status: 201,
                resourceType: PATIENT,
                resourceId: nhs,
                version: 1,
              }),
            });
            // answered as a read shows it
            return {
              created: true,
              patient: { patient: patientForRead(saved.resource), version: saved.version },
            };
          } catch (err) {
            if (!(err instanceof VersionConflictError)) throw err; // the number was taken meanwhile: draw another
          }
        }
        throw new FhirError(
          503,
          'SERVICE_UNAVAILABLE',
          'Could not allocate an NHS Number; retry with the same X-Request-ID',
          { 'retry-after': '1' },
        );
      },
    });
  }

  /** Same family name, a shared given name, birth date and gender on a current record. */
  private async likelyDuplicates(p: Patient): Promise<string[]> {
    const name = p.name?.[0];
    if (!name?.family || !name.given?.length || !p.birthDate) return [];
    const result = await trace(this.repo, {
      fuzzy: false,
      exact: true,
      history: false,
      maxResults: 50,
      family: name.family,
      given: [name.given[0]],
      gender: p.gender,
      birthdate: [{ op: 'eq', value: p.birthDate }],
      deathDate: [],
    });
    return result.kind === 'too-many' ? ['many', 'many'] : result.matches.map((m) => m.patient.id!);
  }

  /** Supersedes the source number by the target; both histories stay, reads of the source lead to the target. */
  async merge(ctx: RequestContext, body: unknown): Promise<VersionedPatient> {
    const params = body as Parameters;
    if (params?.resourceType !== 'Parameters' || !Array.isArray(params.parameter)) {
      throw new FhirError(
        400,
        'INVALID_VALUE',
        "Invalid value - the body must be a Parameters resource with 'source-patient-identifier' and 'target-patient-identifier'",
      );
    }
    const pick = (name: string) => {
      // the body is untrusted JSON: every level is checked before it is used
      const p = params.parameter!.find(
        (x) =>
          !!x &&
          typeof x === 'object' &&
          (x.name === `${name}-patient-identifier` || x.name === `${name}-patient`),
      );
      const reference = p?.valueReference?.reference;
      const value: unknown =
        p?.valueIdentifier?.value ??
        (typeof reference === 'string' ? reference.split('/').pop() : reference);
      if (value === undefined || value === null || value === '')
        throw new FhirError(400, 'MISSING_VALUE', `Missing value - '${name}-patient-identifier'`);
      if (typeof value !== 'string')
        throw new FhirError(
          400,
          'INVALID_VALUE',
          `Invalid value - '${name}-patient-identifier' must be an NHS Number`,
        );
      return checkNhsNumber(value);
    };
    const sourceId = pick('source'),
      targetId = pick('target');
    return writeOnce(this.repo, ctx, {
      asBefore: (earlier) => this.answerAsBefore(ctx, 'pds.merge', earlier),
      write: async ({ record, twin }) => {
        if (sourceId === targetId)
          throw new FhirError(
            400,
            'INVALID_UPDATE',
            'Invalid update with error - a record cannot be merged into itself',
          );
        const [source, target] = await Promise.all([
          this.repo.read(PATIENT, sourceId),
          this.repo.read(PATIENT, targetId),
        ]);
        if (!source)
          throw new FhirError(404, 'RESOURCE_NOT_FOUND', `Patient '${sourceId}' not found`);
        if (!target)
          throw new FhirError(404, 'RESOURCE_NOT_FOUND', `Patient '${targetId}' not found`);
        const sourceSurvivor = replacedBy(source.resource);
        if (sourceSurvivor) {
          // superseded a moment ago by a twin of this very request: answer as it did
          const answered = await twin();
          if (answered) return answered;
          throw new FhirError(
            400,
            'INVALID_UPDATE',
            `Invalid update with error - '${sourceId}' is already superseded by '${sourceSurvivor}'`,
          );
        }
        if (replacedBy(target.resource))
          throw new FhirError(
            400,
            'INVALID_UPDATE',
            `Invalid update with error - '${targetId}' is superseded and cannot survive a merge`,
          );
        const ref = (id: string) => ({
          reference: `Patient/${id}`,
          identifier: { system: NHS_NUMBER_SYSTEM, value: id },
        });
        const superseded: Patient = {
          ...source.resource,
          link: [{ type: 'replaced-by', other: ref(targetId) }],
        };
        // the survivor also answers to every number the source had absorbed before
        const absorbed = (source.resource.link ?? []).filter(
          (l: { type?: string }) => l.type === 'replaces',
        );
        const survivor: Patient = {
          ...target.resource,
          link: [
            ...(target.resource.link ?? []),
            { type: 'replaces', other: ref(sourceId) },
            ...absorbed,
          ],
        };
        const saved = await this.repo.commit({
          resources: [
            {
              type: PATIENT,
              id: sourceId,
              expectedVersion: source.version,
              resource: superseded,
              index: indexPatient(superseded),
            },
            {
              type: PATIENT,
              id: targetId,
              expectedVersion: target.version,
              resource: survivor,
              index: indexPatient(survivor),
            },
          ],
          audit: [
            auditRecord(ctx, 'pds.merge', targetId, 'success', { superseded: sourceId }),
            auditRecord(ctx, 'pds.merge', sourceId, 'superseded', { survivor: targetId }),
          ],
          request: record({
            status: 200,
            resourceType: PATIENT,
            resourceId: targetId,
            version: target.version + 1,
          }),
          messages: mergeEvents(targetId, sourceId, target.version + 1, new Date().toISOString()),
        });
        return { patient: patientForRead(saved[1].resource), version: saved[1].version };
      },
    });
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
