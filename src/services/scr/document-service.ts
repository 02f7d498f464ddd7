import type { Bundle, BundleEntry, Patient } from 'fhir/r4.js';
import { auditRecord } from '../../audit/audit-record.js';
import { AuditWriter } from '../../audit/audit-writer.js';
import { FhirError } from '../../fhir/errors.js';
import type { RequestContext } from '../../http/request-context.js';
import { toFhirError } from '../../http/fhir-conventions.js';
import { LegitimateRelationships } from '../../security/relationships.js';
import type { Repository } from '../../store/types.js';
import { NHS_NUMBER_SYSTEM } from '../pds/patient-model.js';
import { currentPermission, readConsentState } from './consent-store.js';
import { consentFor, registeredPractice, resolveForRetrieval, viewDecision, type ViewDecision } from './document-access.js';
import type { ScrDocument } from './document-model.js';
import { listDocuments, readDocument, readPointer, storeNewVersion } from './document-store.js';
import type { ValidDocument } from './document-validation.js';
import { bundleForView, documentReference } from './document-views.js';
import { summarySearchset } from './summary-view.js';

/**
 * The SCR document use cases: upload a new version, list versions, read one, and the flattened
 * summary. Every upload commits with its audit entry; every read (and every refusal of one) is
 * audited through the group committer, with the relationship and the view basis it relied on.
 */
export class ScrDocumentService {
  private readonly readAudit: AuditWriter;
  private readonly relationships: LegitimateRelationships;

  constructor(private readonly repo: Repository, private readonly baseUrl: string) {
    this.readAudit = new AuditWriter(repo);
    this.relationships = new LegitimateRelationships(repo);
  }

  /** Stores a validated document (whose subject is a current PDS record) as the patient's current SCR. */
  async upload(ctx: RequestContext, doc: ValidDocument, patient: Patient): Promise<ScrDocument> {
    const nhs = doc.subjectNhs;
    const practice = registeredPractice(patient);
    if (!practice || !doc.authorOrgs.includes(practice)) {
      throw new FhirError(422, 'AUTHOR_NOT_REGISTERED_PRACTICE', `The document's author organisation (${doc.authorOrgs.join(', ').slice(0, 60)}) is not the patient's registered GP practice`);
    }
    const principal = ctx.principal!;
    if (principal.org !== practice) throw new FhirError(403, 'ACCESS_DENIED', `Only the patient's registered practice may upload their summary; you act for ${principal.org || '(none)'}`);
    const { state } = await readConsentState(this.repo, nhs);
    if (state.scr === 'dissent') {
      // the attempt is part of the record even though nothing is stored
      await this.repo.commit({ audit: [auditRecord(ctx, 'scr.upload', nhs, 'refused 403 SCR_DISSENT', { accessBasis: ctx.accessBasis, authorOrg: practice })] });
      ctx.refusalAudited = true;
      throw new FhirError(403, 'SCR_DISSENT', 'The patient has dissented from having a Summary Care Record; the document was not stored');
    }
    return storeNewVersion(this.repo, doc, { uploadedBy: principal.userId, authorOrg: practice }, (stored) =>
      auditRecord(ctx, 'scr.upload', nhs, 'success', { documentId: stored.id, sequence: stored.sequence, accessBasis: ctx.accessBasis, authorOrg: practice }));
  }

  /** DocumentReference metadata of every version: needs the relationship (checked already), not permission. */
  async documentReferences(ctx: RequestContext, requested: string): Promise<Bundle> {
    const nhs = await resolveForRetrieval(this.repo, this.relationships, ctx, requested);
    await this.audited(ctx, nhs, { view: 'DocumentReference', requested }, () => consentFor(this.repo, nhs));
    const docs = await listDocuments(this.repo, nhs);
    const { pointer } = await readPointer(this.repo, nhs);
    const principal = ctx.principal!;
    const permission = principal.kind === 'patient' ? undefined : (await currentPermission(this.repo, nhs, principal.userId))?.code;
    const matches: BundleEntry[] = docs.map((d) => ({
      fullUrl: `${this.baseUrl}/DocumentReference/${d.id}`,
      resource: documentReference(d, { current: d.id === pointer?.current, baseUrl: this.baseUrl, permission }),
      search: { mode: 'match' },
    }));
    const patient: BundleEntry = { fullUrl: `${this.baseUrl}/Patient/${nhs}`, resource: { resourceType: 'Patient', id: nhs, identifier: [{ system: NHS_NUMBER_SYSTEM, value: nhs }] }, search: { mode: 'include' } };
    await this.readAudit.append(auditRecord(ctx, 'scr.view', nhs, 'success', this.detail(ctx, nhs, { view: 'DocumentReference', count: docs.length, requested })));
    return { resourceType: 'Bundle', type: 'searchset', timestamp: new Date().toISOString(), total: matches.length, entry: matches.length ? [...matches, patient] : [] };
  }

  /** One stored version, as the patient's consent and the caller's basis allow. */
  async bundle(ctx: RequestContext, id: string, requested: string): Promise<Bundle> {
    const nhs = await resolveForRetrieval(this.repo, this.relationships, ctx, requested);
    const decision = await this.audited(ctx, nhs, { view: 'Bundle', documentId: id, requested }, () => viewDecision(this.repo, ctx, nhs));
    const doc = await readDocument(this.repo, id);
    // a document of another patient is as absent as one that does not exist
    if (!doc || doc.patient !== nhs) throw new FhirError(404, 'RESOURCE_NOT_FOUND', `Summary Care Record document '${id.slice(0, 64)}' not found for this patient`);
    await this.readAudit.append(auditRecord(ctx, 'scr.view', nhs, 'success', this.detail(ctx, nhs, { view: 'Bundle', documentId: id, sequence: doc.sequence, requested }, decision)));
    return bundleForView(doc, decision.consent, decision.basis);
  }

  /** The current allergies, reactions and medications of the current SCR, flattened for clinical apps. */
  async summary(ctx: RequestContext, requested: string): Promise<Bundle> {
    const nhs = await resolveForRetrieval(this.repo, this.relationships, ctx, requested);
    const decision = await this.audited(ctx, nhs, { view: '$summary', requested }, () => viewDecision(this.repo, ctx, nhs));
    const { pointer } = await readPointer(this.repo, nhs);
    const doc = pointer ? await readDocument(this.repo, pointer.current) : null;
    if (!doc) throw new FhirError(404, 'NO_SCR', 'The patient has no Summary Care Record');
    await this.readAudit.append(auditRecord(ctx, 'scr.view', nhs, 'success', this.detail(ctx, nhs, { view: '$summary', documentId: doc.id, sequence: doc.sequence, requested }, decision)));
    return summarySearchset(doc, this.baseUrl, decision.basis);
  }

  /** Audit detail: what was seen, on which relationship and view basis; the number asked for when a merge redirected it. */
  private detail(ctx: RequestContext, nhs: string, facts: Record<string, unknown>, decision?: ViewDecision): Record<string, unknown> {
    const out: Record<string, unknown> = { ...facts, accessBasis: ctx.accessBasis ?? (ctx.principal?.kind === 'patient' ? 'own-record' : undefined) };
    if (facts.requested === nhs) delete out.requested;
    if (decision) Object.assign(out, { viewBasis: decision.basis, consent: decision.consent });
    return out;
  }

  /** Runs a check; a refusal is audited against the patient (with the code) before it is answered. */
  private async audited<T>(ctx: RequestContext, nhs: string, facts: Record<string, unknown>, check: () => Promise<T>): Promise<T> {
    try {
      return await check();
    } catch (err) {
      const { status, spineCode } = toFhirError(err);
      await this.readAudit.append(auditRecord(ctx, 'scr.view', nhs, `refused ${status} ${spineCode}`, this.detail(ctx, nhs, facts)));
      ctx.refusalAudited = true;
      throw err;
    }
  }
}
