/**
 * The patient's own referrals (OpenSpine's patient routes, not the published supplier API): list
 * them, read one, and cancel one with the password of its letter. The patient is always the NHS
 * Number of their NHS login token; a referral is reached through visibleReferral as everywhere
 * else, and a change through transition() and commitReferralChange inside writeOnce.
 */
import type { Bundle } from 'fhir/r4.js';
import { auditRecord } from '../../audit/audit-record.js';
import type { AuditWriter } from '../../audit/audit-writer.js';
import type { RequestContext } from '../../context.js';
import { searchsetBundle } from '../../fhir/bundle.js';
import type { ResourceStore, StoredResource } from '../../store/resource-store.js';
import { writeOnce } from '../write-once.js';
import { ERS_REFERRAL_CANCELLED } from './event-topics.js';
import { verifyPatientAccess } from './patient-access.js';
import { parsePatientCancel } from './patient-rules.js';
import { visibleReferral } from './referral-access.js';
import { REFERRAL_REQUEST, stateOf, type ReferralRequest } from './referral-model.js';
import { transition } from './referral-transitions.js';
import { referralView } from './referral-views.js';
import { commitReferralChange, inState } from './referral-writes.js';

/** More referrals than a patient has open; the list says when it stops short (Bundle.total). */
export const MAX_LISTED = 100;

export class PatientReferralService {
  constructor(
    readonly store: ResourceStore,
    readonly audit: AuditWriter,
    private readonly referralUrl: (ubrn: string) => string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The patient's referrals, in UBRN order, at most MAX_LISTED. */
  async list(ctx: RequestContext, nhsNumber: string): Promise<Bundle> {
    const found = await this.store.searchResources({
      type: REFERRAL_REQUEST,
      criteria: [{ any: [{ param: 'patient', op: 'eq', value: nhsNumber }] }],
      limit: MAX_LISTED,
    });
    await this.audit.append(
      auditRecord(ctx, 'ers.referral.read', nhsNumber, 'success', {
        list: 'patient',
        ubrns: found.map((s) => s.id),
      }),
    );
    return searchsetBundle(
      found.map((s) => ({
        fullUrl: this.referralUrl(s.id),
        resource: referralView(s) as never,
      })),
    );
  }

  /** One of the patient's referrals (403 NO_ACCESS for another patient's, audited). */
  async read(
    ctx: RequestContext,
    nhsNumber: string,
    ubrn: string,
  ): Promise<StoredResource<ReferralRequest>> {
    const stored = await visibleReferral(
      this,
      ctx,
      { patient: nhsNumber },
      ubrn,
      'ers.referral.read',
      ['patient'],
    );
    await this.audit.append(
      auditRecord(ctx, 'ers.referral.read', nhsNumber, 'success', {
        ubrn,
        version: stored.version,
      }),
    );
    return stored;
  }

  /** The patient cancels their referral, presenting the password of its letter. */
  cancel(
    ctx: RequestContext,
    nhsNumber: string,
    ubrn: string,
    body: unknown,
  ): Promise<StoredResource<ReferralRequest>> {
    return writeOnce(this.store, ctx, {
      answers: REFERRAL_REQUEST,
      asBefore: ({ stored }) => stored,
      write: async ({ record }) => {
        const request = parsePatientCancel(body);
        const { referral, resetFailures } = await verifyPatientAccess(
          this,
          ctx,
          { nhsNumber, ubrn, password: request.password },
          'ers.referral.cancel',
        );
        const next = transition(stateOf(referral.resource), 'cancel');
        const { password: _secret, ...cancellation } = request;
        return commitReferralChange(this.store, ctx, record, {
          stored: referral,
          next: { ...inState(referral.resource, next, cancellation), status: 'cancelled' },
          action: 'ers.referral.cancel',
          detail: { ubrn, reason: request.reason.code, by: 'patient' },
          topic: ERS_REFERRAL_CANCELLED,
          reason: request.reason.code,
          with: resetFailures,
          status: 200,
          time: this.now().toISOString(),
        });
      },
    });
  }
}
