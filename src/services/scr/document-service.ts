import type { Bundle, BundleEntry, Patient } from 'fhir/r4.js';
import { auditRecord } from '../../audit/audit-record.js';
import { auditedRefusal } from '../../audit/audited-refusal.js';
import { AuditWriter } from '../../audit/audit-writer.js';
import { FhirError } from '../../fhir/errors.js';
import type { RequestContext } from '../../context.js';
import { toFhirError } from '../../fhir/error-mapping.js';
import { writeOnce, type EarlierAnswer, type RecordRequest } from '../write-once.js';
import { LegitimateRelationships } from '../../security/relationships.js';
import type { ResourceStore } from '../../store/resource-store.js';
import { currentPermission } from './consent-store.js';
import { registeredPractice } from '../../fhir/general-practitioner.js';
import {
  consentFor,
  resolveForRetrieval,
  viewDecision,
  type ViewDecision,
} from './document-access.js';
import { SCR_DOCUMENT_TYPE, type ScrDocument } from './document-model.js';
import { currentDocument, listDocuments, readDocument, storeNewVersion } from './document-store.js';
import type { ValidDocument } from './document-rules.js';
import { bundleForView, documentReference, documentSearchset } from './document-views.js';
import { summarySearchset } from './summary-view.js';
import { numbersMergedInto } from '../pds/index.js';
import { NHS_NUMBER_SYSTEM } from '../../fhir/identifiers.js';

/**
 * The SCR document use cases: upload a new version, list versions, read one, and the flattened
 * summary. Every upload commits with its audit entry; every read (and every refusal of one) is
 * audited through the group committer, with the relationship and the view basis it relied on.
 */
export class ScrDocumentService {
  private readonly readAudit: AuditWriter;
  private readonly relationships: LegitimateRelationships;

  constructor(
    private readonly repo: ResourceStore,
    audit: AuditWriter,
    private readonly baseUrl: string,
  ) {
    this.readAudit = audit;
    this.relationships = new LegitimateRelationships(repo);
  }

  /**
   * Stores a validated document (whose subject is a current PDS record) as the patient's current
   * SCR. A retry with the X-Request-ID of an upload already stored gets that document back (201
   * again, as PDS answers a retried create) and stores nothing; so does a twin that lost the race.
   */
  async upload(ctx: RequestContext, doc: ValidDocument, patient: Patient): Promise<ScrDocument> {
    const nhs = doc.subjectNhs;
    try {
      return await writeOnce(this.repo, ctx, {
        answers: SCR_DOCUMENT_TYPE,
        asBefore: (earlier) => this.answerAsBefore(ctx, earlier),
        write: ({ record }) => this.store(ctx, doc, patient, record),
      });
    } catch (err) {
      if (err instanceof FhirError && err.spineCode === 'SCR_DISSENT') {
        // the attempt is part of the record even though nothing is stored
        await this.repo.commit({
          audit: [
            auditRecord(ctx, 'scr.upload', nhs, 'refused 403 SCR_DISSENT', {
              accessBasis: ctx.accessBasis,
              authorOrg: registeredPractice(patient),
            }),
          ],
        });
        throw auditedRefusal(err);
      }
      throw err;
    }
  }

  private async store(
    ctx: RequestContext,
    doc: ValidDocument,
    patient: Patient,
    record: RecordRequest,
  ): Promise<ScrDocument> {
    const nhs = doc.subjectNhs;
    const practice = registeredPractice(patient);
    const principal = ctx.principal!;
    const authorOrgs = doc.authorOrgs.length > 0 ? doc.authorOrgs : [principal.org];
    if (!practice || !authorOrgs.includes(practice)) {
      throw new FhirError(
        422,
        'AUTHOR_NOT_REGISTERED_PRACTICE',
        `The document's author organisation (${authorOrgs.join(', ').slice(0, 60)}) is not the patient's registered GP practice`,
      );
    }
    if (principal.org !== practice)
      throw new FhirError(
        403,
        'ACCESS_DENIED',
        `Only the patient's registered practice may upload their summary; you act for ${principal.org || '(none)'}`,
      );
    return storeNewVersion(
      this.repo,
      doc,
      { uploadedBy: principal.userId, authorOrg: practice },
      (stored) =>
        auditRecord(ctx, 'scr.upload', nhs, 'success', {
          documentId: stored.id,
          sequence: stored.sequence,
          accessBasis: ctx.accessBasis,
          authorOrg: practice,
        }),
      (stored) =>
        record({
          status: 201,
          resourceType: SCR_DOCUMENT_TYPE,
          resourceId: stored.id,
          version: 1,
        }),
    );
  }

  private async answerAsBefore(
    ctx: RequestContext,
    earlier: EarlierAnswer<ScrDocument>,
  ): Promise<ScrDocument> {
    const doc = earlier.stored.resource;
    await this.readAudit.append(
      auditRecord(ctx, 'scr.upload.replay', doc.patient, 'replayed', { documentId: doc.id }),
    );
    return doc;
  }

  /**
   * DocumentReference metadata of every version: needs the relationship (checked already), not
   * permission. Documents filed under numbers later merged into this patient are theirs too.
   */
  async documentReferences(
    ctx: RequestContext,
    requested: string,
    opts: { latestOnly?: boolean } = {},
  ): Promise<Bundle> {
    const nhs = await resolveForRetrieval(this.repo, this.relationships, ctx, requested);
    await this.audited(ctx, nhs, { view: 'DocumentReference', requested }, () =>
      consentFor(this.repo, nhs),
    );
    const numbers = [nhs, ...(await numbersMergedInto(this.repo, nhs))];
    const docs = await listDocuments(this.repo, numbers);
    const current = await currentDocument(this.repo, numbers);
    const principal = ctx.principal!;
    const permission =
      principal.kind === 'patient'
        ? undefined
        : (await currentPermission(this.repo, nhs, principal.userId))?.code;
    // the published search's _count=1: only the latest (the current version)
    const listed = opts.latestOnly ? docs.filter((d) => d.id === current?.id) : docs;
    const matches: BundleEntry[] = listed.map((d) => ({
      fullUrl: `${this.baseUrl}/DocumentReference/${d.id}`,
      resource: documentReference(d, {
        current: d.id === current?.id,
        baseUrl: this.baseUrl,
        permission,
        patient: nhs,
      }),
      search: { mode: 'match' },
    }));
    // the subject as the published searchset carries it: an entry under its bare id, with the NHS Number
    const patient: BundleEntry = {
      fullUrl: nhs,
      resource: {
        resourceType: 'Patient',
        id: nhs,
        identifier: [{ system: NHS_NUMBER_SYSTEM, value: nhs }],
      },
    };
    await this.readAudit.append(
      auditRecord(
        ctx,
        'scr.view',
        nhs,
        'success',
        this.detail(ctx, nhs, { view: 'DocumentReference', count: listed.length, requested }),
      ),
    );
    return {
      resourceType: 'Bundle',
      type: 'searchset',
      timestamp: new Date().toISOString(),
      total: matches.length,
      entry: matches.length ? [...matches, patient] : [],
    };
  }

  /**
   * One stored version (filed under this patient's number or one merged into it), as the patient's
   * consent and the caller's basis allow.
   */
  async bundle(ctx: RequestContext, id: string, requested: string): Promise<Bundle> {
    const nhs = await resolveForRetrieval(this.repo, this.relationships, ctx, requested);
    const decision = await this.audited(
      ctx,
      nhs,
      { view: 'Bundle', documentId: id, requested },
      () => viewDecision(this.repo, ctx, nhs),
    );
    const doc = await readDocument(this.repo, id);
    // a document of another patient is as absent as one that does not exist
    if (!doc || !(await this.isPatients(doc, nhs)))
      throw new FhirError(
        404,
        'RESOURCE_NOT_FOUND',
        `Summary Care Record document '${id.slice(0, 64)}' not found for this patient`,
      );
    await this.readAudit.append(
      auditRecord(
        ctx,
        'scr.view',
        nhs,
        'success',
        this.detail(
          ctx,
          nhs,
          { view: 'Bundle', documentId: id, sequence: doc.sequence, requested },
          decision,
        ),
      ),
    );
    return bundleForView(doc, decision.consent, decision.basis);
  }

  /**
   * The published API's search form of a read: the patient's document whose id or Composition
   * identifier (the DocumentReference masterIdentifier) is the value given, its resources as one
   * searchset, under the same checks and audit as a read of one version. No match is an empty searchset.
   */
  async searchBundles(ctx: RequestContext, identifier: string, requested: string): Promise<Bundle> {
    const nhs = await resolveForRetrieval(this.repo, this.relationships, ctx, requested);
    const decision = await this.audited(ctx, nhs, { view: 'Bundle', identifier, requested }, () =>
      viewDecision(this.repo, ctx, nhs),
    );
    const numbers = [nhs, ...(await numbersMergedInto(this.repo, nhs))];
    const byComposition = (await listDocuments(this.repo, numbers)).filter(
      (d) => d.compositionIdentifier === identifier,
    );
    const byId = await readDocument(this.repo, identifier);
    const docs =
      byId && numbers.includes(byId.patient) && !byComposition.some((d) => d.id === byId.id)
        ? [byId, ...byComposition]
        : byComposition;
    await this.readAudit.append(
      auditRecord(
        ctx,
        'scr.view',
        nhs,
        'success',
        this.detail(
          ctx,
          nhs,
          { view: 'Bundle', identifier, documentIds: docs.map((d) => d.id), requested },
          decision,
        ),
      ),
    );
    // one document answers (the newest, should an id and a Composition identifier both match), its
    // resources flattened as published
    const newer = (a: ScrDocument, d: ScrDocument) =>
      d.uploaded > a.uploaded || (d.uploaded === a.uploaded && d.sequence > a.sequence);
    const newest = docs.reduce<ScrDocument | undefined>(
      (a, d) => (!a || newer(a, d) ? d : a),
      undefined,
    );
    return documentSearchset(
      newest && bundleForView(newest, decision.consent, decision.basis),
      this.baseUrl,
    );
  }

  /**
   * The current allergies, reactions and medications of the current SCR (the newest current one
   * across merged numbers), flattened for clinical apps.
   */
  async summary(ctx: RequestContext, requested: string): Promise<Bundle> {
    const nhs = await resolveForRetrieval(this.repo, this.relationships, ctx, requested);
    const decision = await this.audited(ctx, nhs, { view: '$summary', requested }, () =>
      viewDecision(this.repo, ctx, nhs),
    );
    const doc = await currentDocument(this.repo, [
      nhs,
      ...(await numbersMergedInto(this.repo, nhs)),
    ]);
    if (!doc) throw new FhirError(404, 'NO_SCR', 'The patient has no Summary Care Record');
    await this.readAudit.append(
      auditRecord(
        ctx,
        'scr.view',
        nhs,
        'success',
        this.detail(
          ctx,
          nhs,
          { view: '$summary', documentId: doc.id, sequence: doc.sequence, requested },
          decision,
        ),
      ),
    );
    return summarySearchset(doc, this.baseUrl, decision.basis);
  }

  /** Whether a document is this (surviving) patient's: filed under their number, or under one merged into it. */
  private async isPatients(doc: ScrDocument, nhs: string): Promise<boolean> {
    return doc.patient === nhs || (await numbersMergedInto(this.repo, nhs)).includes(doc.patient);
  }

  /**
   * Audit detail: what was seen, on which relationship and view basis; the number asked for when a
   * merge redirected it.
   */
  private detail(
    ctx: RequestContext,
    nhs: string,
    facts: Record<string, unknown>,
    decision?: ViewDecision,
  ): Record<string, unknown> {
    const out: Record<string, unknown> = {
      ...facts,
      accessBasis:
        ctx.accessBasis ?? (ctx.principal?.kind === 'patient' ? 'own-record' : undefined),
    };
    if (facts.requested === nhs) delete out.requested;
    if (decision) Object.assign(out, { viewBasis: decision.basis, consent: decision.consent });
    return out;
  }

  /** Runs a check; a refusal is audited against the patient (with the code) before it is answered. */
  private async audited<T>(
    ctx: RequestContext,
    nhs: string,
    facts: Record<string, unknown>,
    check: () => Promise<T>,
  ): Promise<T> {
    try {
      return await check();
    } catch (err) {
      const { status, spineCode } = toFhirError(err);
      await this.readAudit.append(
        auditRecord(
          ctx,
          'scr.view',
          nhs,
          `refused ${status} ${spineCode}`,
          this.detail(ctx, nhs, facts),
        ),
      );
      throw auditedRefusal(err);
    }
  }
}
