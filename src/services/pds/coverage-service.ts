import type { Bundle, Coverage, Patient } from 'fhir/r4.js';
import { auditRecord } from '../../audit/audit-record.js';
import { AuditWriter } from '../../audit/audit-writer.js';
import { FhirError } from '../../fhir/errors.js';
import type { RequestContext } from '../../context.js';
import { writeOnce, type EarlierAnswer } from '../write-once.js';
import type { Repository } from '../../store/repository.js';
import type { StoredResource } from '../../store/resource-store.js';
import {
  COVERAGE,
  coverageBundle,
  coverageDocument,
  coverageForResponse,
  coverageIndex,
  recordVersionOf,
} from './coverage-model.js';
import { validateCoverage } from './coverage-rules.js';
import { indexPatient } from './patient-index.js';
import { isInvalidated, PATIENT, replacedBy } from './patient-model.js';
import { checkNhsNumber } from './patient-answers.js';
import { currentPatient } from './patients.js';
import { PUBLISHED, PublishedError } from './published-errors.js';

export interface CoverageAnswer {
  bundle: Bundle;
  version: number;
}

const SUBSCRIBER = 'subscriber:identifier';

export const INVALID_COVERAGE_SEARCH =
  "Invalid search data provided - 'Coverage search request must follow the format /Coverage?subscriber:identifier=NHS_NUMBER'";

/** Whether a Coverage search names one subscriber and nothing else, as PDS requires. */
export function isCoverageSearch(query: unknown): query is Record<typeof SUBSCRIBER, string> {
  if (!query || typeof query !== 'object') return false;
  const keys = Object.keys(query);
  return (
    keys.length === 1 &&
    keys[0] === SUBSCRIBER &&
    typeof (query as Record<string, unknown>)[SUBSCRIBER] === 'string'
  );
}

const notFound = () => new PublishedError(404, 'RESOURCE_NOT_FOUND', PUBLISHED.resourceNotFound());
const invalidated = (nhs: string) =>
  new FhirError(404, 'INVALIDATED_RESOURCE', `Patient '${nhs}' has been invalidated`);

/** Reading and replacing a patient's EHIC details. Every read is audited; every change commits with its audit entry. */
export class CoverageService {
  private readonly readAudit: AuditWriter;

  constructor(
    private readonly repo: Repository,
    audit: AuditWriter,
    private readonly baseUrl: string,
  ) {
    this.readAudit = audit;
  }

  /**
   * GET /Coverage?subscriber:identifier=NHS_NUMBER: the card of the record the number leads to (a
   * superseded number leads to its survivor).
   */
  async search(ctx: RequestContext, query: unknown): Promise<CoverageAnswer> {
    if (!isCoverageSearch(query))
      throw new FhirError(400, 'INVALID_SEARCH_DATA', INVALID_COVERAGE_SEARCH);
    const requested = checkNhsNumber(query[SUBSCRIBER]);
    const patient = await currentPatient(this.repo, requested);
    if (!patient) throw notFound();
    if (isInvalidated(patient.resource)) throw invalidated(requested);
    const stored = (await this.repo.read(COVERAGE, patient.id)) as StoredResource<Coverage> | null;
    const shown = stored ? coverageForResponse(stored.resource, patient.id) : undefined;
    await this.readAudit.append(
      auditRecord(ctx, 'pds.coverage.read', patient.id, 'success', {
        ...(patient.id !== requested ? { requested, supersededBy: patient.id } : {}),
        found: Boolean(shown),
      }),
    );
    return {
      bundle: coverageBundle(this.baseUrl, patient.id, shown, patient.version),
      version: patient.version,
    };
  }

  /**
   * POST /Coverage: adds the patient's card, or replaces the one held. The If-Match is the patient
   * record's version; the change moves it on (the card is part of the record), so a card and a
   * demographic update made from the same read cannot both succeed.
   */
  async update(
    ctx: RequestContext,
    expectedVersion: number,
    body: unknown,
  ): Promise<CoverageAnswer> {
    const card = validateCoverage(body);
    const nhs = card.nhsNumber;
    return writeOnce(this.repo, ctx, {
      answers: COVERAGE,
      asBefore: (earlier) => this.answerAsBefore(ctx, earlier),
      write: async ({ record }) => {
        const patient = (await this.repo.read(PATIENT, nhs)) as StoredResource<Patient> | null;
        if (!patient) throw notFound();
        if (isInvalidated(patient.resource)) throw invalidated(nhs);
        if (replacedBy(patient.resource)) {
          throw new PublishedError(
            403,
            'FORBIDDEN_UPDATE',
            PUBLISHED.forbiddenUpdate(
              'Forbidden update with error - Update Failed - NHS No. supplied has been superseded in a merge',
            ),
          );
        }
        // the version may have moved because a twin of this very request has just committed: answered as it was
        if (patient.version !== expectedVersion)
          throw new PublishedError(409, 'RESOURCE_VERSION_MISMATCH', PUBLISHED.versionMismatch());
        const held = (await this.repo.read(COVERAGE, nhs)) as StoredResource<Coverage> | null;
        const recordVersion = expectedVersion + 1;
        const document = coverageDocument(card, recordVersion);
        const [, saved] = await this.repo.commit({
          resources: [
            // the record's version moves on with its card; its demographics are unchanged
            {
              type: PATIENT,
              id: nhs,
              expectedVersion,
              resource: patient.resource,
              index: indexPatient(patient.resource),
            },
            {
              type: COVERAGE,
              id: nhs,
              expectedVersion: held?.version ?? 0,
              resource: document,
              index: coverageIndex(nhs),
            },
          ],
          audit: [
            auditRecord(ctx, 'pds.coverage.update', nhs, 'success', {
              replaced: Boolean(held),
              country: card.country,
              recordVersion,
            }),
          ],
          request: record({
            status: 201,
            resourceType: COVERAGE,
            resourceId: nhs,
            version: (held?.version ?? 0) + 1,
          }),
        });
        return this.answer(saved as StoredResource<Coverage>, nhs, recordVersion);
      },
    });
  }

  private answer(
    stored: StoredResource<Coverage>,
    nhs: string,
    recordVersion: number,
  ): CoverageAnswer {
    return {
      bundle: coverageBundle(
        this.baseUrl,
        nhs,
        coverageForResponse(stored.resource, nhs),
        recordVersion,
      ),
      version: recordVersion,
    };
  }

  /** A write retried under its X-Request-ID gets the answer the first got (../write-once.ts). */
  private async answerAsBefore(
    ctx: RequestContext,
    earlier: EarlierAnswer<Coverage>,
  ): Promise<CoverageAnswer> {
    const stored = earlier.stored;
    await this.readAudit.append(
      auditRecord(ctx, 'pds.coverage.update.replay', stored.id, 'replayed'),
    );
    return this.answer(stored, stored.id, recordVersionOf(stored.resource) ?? 0);
  }
}
