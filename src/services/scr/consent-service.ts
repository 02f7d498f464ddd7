import type { Bundle, Consent } from 'fhir/r4.js';
import { randomUUID } from 'node:crypto';
import { auditRecord } from '../../audit/audit-record.js';
import { AuditWriter } from '../../audit/audit-writer.js';
import { searchsetBundle } from '../../fhir/bundle.js';
import { FhirError } from '../../fhir/errors.js';
import type { RequestContext } from '../../context.js';
import { writeOnce, type EarlierAnswer, type RecordRequest } from '../write-once.js';
import { VersionConflictError } from '../../store/errors.js';
import type { ResourceWrite, ResourceStore } from '../../store/resource-store.js';
import { CHOICES, codeForOptOut, codeForScr } from './consent-codes.js';
import { resolvePatient } from './consent-patient.js';
import { buildConsent, choiceCodeOf, CONSENT, consentIndex } from './consent-resource.js';
import { readConsentState, SCR_CONSENT_STATE_TYPE, type ScrConsentState } from './consent-store.js';
import type { ConsentRequest } from './consent-rules.js';
import { SCR_POINTER_TYPE, type ScrPointer } from './document-model.js';
import { readPointer } from './document-store.js';
import { consentChanged } from './document-events.js';

/** Concurrent changes to one patient's choices are re-applied on the fresh state this many times before a 409. */
const MAX_ATTEMPTS = 6;
/**
 * More Consents than this for one patient is not a real history; the listing refuses rather than
 * truncating silently.
 */
const MAX_LISTED = 1000;

export interface RecordedConsent {
  consent: Consent;
  version: number;
}

/**
 * Records patients' choices. Each choice is a new Consent (the history is the list of them) and
 * moves the patient's one current ScrConsentState, version-checked, in the same commit as the
 * Consent, the previous Consent's retirement and the audit entry: a change either lands whole or
 * not at all, and two changes racing never overwrite each other unseen.
 */
export class ConsentService {
  private readonly readAudit: AuditWriter;

  constructor(
    private readonly repo: ResourceStore,
    audit: AuditWriter,
  ) {
    this.readAudit = audit;
  }

  /**
   * Records a choice. A retry (same X-Request-ID, same request) of one that was applied gets the
   * Consent it created (as first stored) and records nothing new.
   */
  async record(ctx: RequestContext, request: ConsentRequest): Promise<RecordedConsent> {
    return writeOnce(this.repo, ctx, {
      answers: CONSENT,
      asBefore: (earlier) => this.answerAsBefore(ctx, earlier),
      write: async ({ record, twin }) => {
        const nhs = await resolvePatient(this.repo, request.nhsNumber);
        for (let attempt = 1; ; attempt++) {
          try {
            return await this.recordOnce(ctx, request, nhs, record);
          } catch (err) {
            // any other refusal, or the last, goes to writeOnce (which answers a twin that won)
            if (!(err instanceof VersionConflictError) || attempt >= MAX_ATTEMPTS) throw err;
            // a twin of this request (same X-Request-ID) may have committed first: answer as it did
            const answered = await twin();
            if (answered) return answered;
            // else another change to this patient's choices committed first: apply ours on top of it, in order
            // jitter so racing writers do not collide again on the same turn
            await new Promise((r) => setTimeout(r, Math.random() * 10 * attempt));
          }
        }
      },
    });
  }

  private async answerAsBefore(
    ctx: RequestContext,
    { stored }: EarlierAnswer<Consent>,
  ): Promise<RecordedConsent> {
    const consent = stored.resource as Consent;
    await this.readAudit.append(
      auditRecord(
        ctx,
        'scr.consent.replay',
        consent.patient?.identifier?.value ?? null,
        'replayed',
        { consent: consent.id },
      ),
    );
    return { consent, version: stored.version };
  }

  private async recordOnce(
    ctx: RequestContext,
    request: ConsentRequest,
    nhs: string,
    record: RecordRequest,
  ): Promise<RecordedConsent> {
    const { state, version } = await readConsentState(this.repo, nhs);
    const effect = CHOICES[request.code].effect;
    const id = randomUUID();
    const consent = buildConsent(id, nhs, request.code, ctx.principal!, new Date().toISOString());
    const next: ScrConsentState =
      effect.kind === 'scr'
        ? { ...state, scr: effect.scr, scrConsentId: id }
        : { ...state, nationalOptOut: effect.optedOut, optOutConsentId: id };
    const from =
      effect.kind === 'scr' ? codeForScr(state.scr) : codeForOptOut(state.nationalOptOut);
    const previousId = effect.kind === 'scr' ? state.scrConsentId : state.optOutConsentId;

    const writes: ResourceWrite[] = [
      {
        type: CONSENT,
        id,
        expectedVersion: 0,
        resource: consent as Record<string, any>,
        index: consentIndex(nhs),
      },
      {
        type: SCR_CONSENT_STATE_TYPE,
        id: nhs,
        expectedVersion: version,
        resource: next as unknown as Record<string, any>,
        index: [],
      },
    ];
    if (previousId) {
      // the Consent it replaces stays in the history, marked no longer in force
      const previous = await this.repo.read(CONSENT, previousId);
      if (previous)
        writes.push({
          type: CONSENT,
          id: previousId,
          expectedVersion: previous.version,
          resource: { ...previous.resource, status: 'inactive' },
          index: consentIndex(nhs),
        });
    }
    // dissent moves the SCR pointer too, so an upload that checked consent before this commits fails its version check
    if (effect.kind === 'scr' && effect.scr === 'dissent')
      writes.push(await dissentPointerWrite(this.repo, nhs, id));
    const action = effect.kind === 'scr' ? 'scr.consent' : 'optout.manage';
    const detail = {
      consent: id,
      from,
      to: request.code,
      ...(nhs !== request.nhsNumber ? { requested: request.nhsNumber } : {}),
    };
    const stored = await this.repo.commit({
      resources: writes,
      audit: [auditRecord(ctx, action, nhs, 'recorded', detail, { type: 'patient-record' })],
      request: record({
        status: 201,
        resourceType: CONSENT,
        resourceId: id,
        version: 1,
      }),
      messages: [consentChanged(nhs, id, from, request.code, consent.dateTime!)],
    });
    return { consent: stored[0].resource as Consent, version: stored[0].version };
  }

  /** Every Consent recorded for the patient (under a superseded number: the survivor's), newest first. */
  async list(
    ctx: RequestContext,
    nhsNumber: string,
  ): Promise<{ nhs: string; consents: Consent[] }> {
    const nhs = await resolvePatient(this.repo, nhsNumber);
    const ids = await this.repo.search({
      type: CONSENT,
      criteria: [{ any: [{ param: 'patient', op: 'eq', value: nhs }] }],
      limit: MAX_LISTED + 1,
    });
    if (ids.length > MAX_LISTED)
      throw new FhirError(
        400,
        'TOO_MANY_MATCHES',
        `Patient '${nhs}' has more than ${MAX_LISTED} Consents`,
      );
    const consents = (await this.repo.readMany(CONSENT, ids)).map((s) => s.resource);
    // same instant: the one in force first
    consents.sort(
      (a, b) =>
        b.dateTime!.localeCompare(a.dateTime!) ||
        (a.status === 'active' ? -1 : 0) - (b.status === 'active' ? -1 : 0),
    );
    await this.readAudit.append(
      auditRecord(ctx, 'scr.consent', nhs, 'read', { consents: consents.length }),
    );
    return { nhs, consents };
  }

  async read(ctx: RequestContext, id: string): Promise<RecordedConsent> {
    const stored = await this.repo.read(CONSENT, id);
    if (!stored) throw new FhirError(404, 'RESOURCE_NOT_FOUND', `Consent '${id}' not found`);
    const consent = stored.resource;
    await this.readAudit.append(
      auditRecord(ctx, 'scr.consent', consent.patient?.identifier?.value ?? null, 'read', {
        consent: id,
        choice: choiceCodeOf(consent),
      }),
    );
    return { consent, version: stored.version };
  }

  searchset(consents: Consent[], baseUrl: string): Bundle {
    return searchsetBundle(
      consents.map((c) => ({ resource: c, fullUrl: `${baseUrl}/Consent/${c.id}` })),
    );
  }
}

/** The patient's SCR pointer, unchanged but for the dissent, written against the version just read. */
async function dissentPointerWrite(
  repo: ResourceStore,
  nhs: string,
  consentId: string,
): Promise<ResourceWrite> {
  const { pointer, version } = await readPointer(repo, nhs);
  const next: ScrPointer = {
    ...(pointer ?? { resourceType: SCR_POINTER_TYPE, id: nhs, current: null, sequence: 0 }),
    dissentConsentId: consentId,
  };
  return {
    type: SCR_POINTER_TYPE,
    id: nhs,
    expectedVersion: version,
    resource: next as unknown as Record<string, any>,
    index: [],
  };
}
