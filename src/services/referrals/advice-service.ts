/**
 * The advice and guidance use cases: read by UBRN (a024) and by version, the conversation (a025),
 * the provider's worklist (a023) and the provider's response ($ers.sendCommunicationToRequester,
 * a026); creating a request (a044) is advice-create.ts, converting it to a referral (a027)
 * advice-conversion.ts. Writes go through writeOnce (X-Request-ID replay) and commit the request's
 * next version, the new message, the audit record and the outbox message together; reads are
 * audited through the process's AuditWriter; access goes through visibleAdvice.
 */
import { auditRecord } from '../../audit/audit-record.js';
import type { AuditWriter } from '../../audit/audit-writer.js';
import type { RequestContext } from '../../context.js';
import type { ResourceStore, StoredResource } from '../../store/resource-store.js';
import { ersProfileOf, HEALTHCARE_SERVICE } from '../directory/index.js';
import { resolveAttachments } from './advice-attachments.js';
import type { AttachmentRef } from './advice-parameters.js';
import { writeOnce, type EarlierAnswer } from '../write-once.js';
import {
  adviceMessage,
  commitAdviceChange,
  requireAdviceVersion,
  visibleAdvice,
} from './advice-access.js';
import {
  ADVICE_MESSAGE,
  ADVICE_REQUEST,
  advicePatientOf,
  adviceReferrerOf,
  adviceServiceOf,
  adviceStateOf,
  firstRequestedOf,
  messageCountOf,
  messageId,
  type Actor,
  type AdviceMessage,
  type AdviceRequest,
} from './advice-model.js';
import { adviceWrites, newMessage, nextAdviceRequest } from './advice-records.js';
import { parseAdviceWorklist, type ConversationQuery } from './advice-read-rules.js';
import { parseSendResponse, requirePublishedFunction } from './advice-rules.js';
import { adviceTransition, OPEN_ADVICE_STATES } from './advice-transitions.js';
import { ersError } from './ers-errors.js';
import { ERS_ADVICE_RESPONDED } from './event-topics.js';
import type { ErsCaller } from './referral-rules.js';

/** How many UBRNs a create draws before giving up (as a referral's create). */
/** The most requests one worklist answers (e-RS refuses a worklist over 10MB). */
export const ADVICE_WORKLIST_MAX = 2000;

/** A request and one message of its conversation (a044's and a026's answers). */
export interface AdviceExchange {
  request: StoredResource<AdviceRequest>;
  message: StoredResource<AdviceMessage>;
}

/** The caller as the PractitionerRole of the messages: the user, and whom an admin acts for. */
export function actorsOf(
  ctx: RequestContext,
  caller: ErsCaller,
  actsFor?: { userId: string; fn: string },
) {
  const sender: Actor = {
    userId: ctx.principal?.userId ?? 'unknown',
    ods: caller.ods,
    businessFunction: caller.businessFunction,
  };
  const onBehalf =
    actsFor ??
    (caller.onBehalfOf
      ? { userId: caller.onBehalfOf, fn: 'SERVICE_PROVIDER_CLINICIAN' }
      : undefined);
  const requester: Actor = onBehalf
    ? { userId: onBehalf.userId, ods: caller.ods, businessFunction: onBehalf.fn }
    : sender;
  return { sender, requester };
}

/**
 * The provider's reply in the conversation (a024's answer, a027's guidance): the request's next
 * message, from the caller to the referrer, at the request's next version, with the files it names.
 */
export async function providerReply(
  store: ResourceStore,
  ctx: RequestContext,
  caller: ErsCaller,
  stored: StoredResource<AdviceRequest>,
  reply: {
    text: string;
    attachments: AttachmentRef[];
    time: string;
    outcome: Record<string, string>;
  },
): Promise<AdviceMessage> {
  const ubrn = stored.id;
  const { sender, requester } = actorsOf(ctx, caller);
  return newMessage({
    ubrn,
    n: messageCountOf(stored.resource) + 1,
    version: stored.version + 1,
    sentBy: 'RESPONDER',
    sender,
    requester,
    to: { ods: adviceReferrerOf(stored.resource) },
    text: reply.text,
    attachments: await resolveAttachments(store, reply.attachments, { ods: caller.ods, ubrn }),
    time: reply.time,
    outcome: reply.outcome,
  });
}

export class AdviceService {
  constructor(
    readonly store: ResourceStore,
    readonly audit: AuditWriter,
    /** The e-RS STU3 base (publicUrl + REFERRALS_BASE), for code systems and links. */
    readonly baseUrl: string,
    readonly now: () => Date = () => new Date(),
  ) {}

  /** a024: the current version of a request the caller's organisation is a party to. */
  async read(
    ctx: RequestContext,
    caller: ErsCaller,
    ubrn: string,
  ): Promise<StoredResource<AdviceRequest>> {
    requirePublishedFunction(caller, 'read');
    const stored = await visibleAdvice(this, ctx, caller.ods, ubrn, 'ers.advice.read', [
      'referrer',
      'provider',
    ]);
    await this.audit.append(
      auditRecord(ctx, 'ers.advice.read', advicePatientOf(stored.resource), 'success', {
        ubrn,
        version: stored.version,
      }),
    );
    return stored;
  }

  /** a024-versioned: e-RS answers only the current version; any other is 404. */
  async readVersion(
    ctx: RequestContext,
    caller: ErsCaller,
    ubrn: string,
    version: number,
  ): Promise<StoredResource<AdviceRequest>> {
    requirePublishedFunction(caller, 'read');
    const stored = await visibleAdvice(this, ctx, caller.ods, ubrn, 'ers.advice.read', [
      'referrer',
      'provider',
    ]);
    if (stored.version !== version)
      throw ersError(
        404,
        'not-found',
        'REC_NOT_FOUND',
        `Advice and guidance request ${ubrn} is at version ${stored.version}; only the current version can be retrieved`,
      );
    await this.audit.append(
      auditRecord(ctx, 'ers.advice.read', advicePatientOf(stored.resource), 'success', {
        ubrn,
        version,
      }),
    );
    return stored;
  }

  /** a025: every message of the conversation, in the order sent, at the request's current version. */
  async conversation(
    ctx: RequestContext,
    caller: ErsCaller,
    query: ConversationQuery,
  ): Promise<{
    request: StoredResource<AdviceRequest>;
    messages: StoredResource<AdviceMessage>[];
  }> {
    requirePublishedFunction(caller, 'read');
    const request = await visibleAdvice(
      this,
      ctx,
      caller.ods,
      query.ubrn,
      'ers.advice.read',
      ['referrer', 'provider'],
      400,
    );
    if (request.version !== query.version)
      throw ersError(
        404,
        'not-found',
        'REC_NOT_FOUND',
        `Advice and guidance request ${query.ubrn} is at version ${request.version}; only the current version's conversation can be retrieved`,
      );
    const count = messageCountOf(request.resource);
    const ids = Array.from({ length: count }, (_, i) => messageId(query.ubrn, i + 1));
    const byId = new Map((await this.store.readMany(ADVICE_MESSAGE, ids)).map((m) => [m.id, m]));
    const messages = ids
      .map((id) => byId.get(id))
      .filter((m): m is StoredResource<AdviceMessage> => !!m);
    await this.audit.append(
      auditRecord(ctx, 'ers.advice.conversation', advicePatientOf(request.resource), 'success', {
        ubrn: query.ubrn,
        version: request.version,
        messages: messages.length,
      }),
    );
    return { request, messages };
  }

  /**
   * a023: the open requests sent to the caller's organisation (from the index: provider and state),
   * oldest first, optionally for one of its services or one specialty.
   */
  async worklist(
    ctx: RequestContext,
    caller: ErsCaller,
    body: unknown,
  ): Promise<{ requests: StoredResource<AdviceRequest>[]; names: Map<string, string> }> {
    requirePublishedFunction(caller, 'worklist');
    const filter = parseAdviceWorklist(body);
    if (filter.service) {
      const service = await this.store.read(HEALTHCARE_SERVICE, filter.service);
      if (!service)
        throw ersError(
          422,
          'not-found',
          'REFERENCE_NOT_FOUND',
          `Service ${filter.service} is not in the directory`,
        );
      if (service.resource.providedBy?.identifier?.value !== caller.ods)
        throw ersError(
          422,
          'business-rule',
          'NO_RELATIONSHIP',
          `Service ${filter.service} is not provided by organisation ${caller.ods}`,
        );
    }
    const eq = (param: string, value: string) => ({ param, op: 'eq' as const, value });
    const found = await this.store.searchResources({
      type: ADVICE_REQUEST,
      criteria: [
        { any: [eq('provider', caller.ods)] },
        { any: OPEN_ADVICE_STATES.map((s) => eq('state', s)) },
        ...(filter.service ? [{ any: [eq('service', filter.service)] }] : []),
        ...(filter.specialty ? [{ any: [eq('specialty', filter.specialty)] }] : []),
      ],
      limit: ADVICE_WORKLIST_MAX + 1,
    });
    if (found.length > ADVICE_WORKLIST_MAX)
      throw ersError(
        422,
        'value',
        'INVALID_VALUE',
        `More than ${ADVICE_WORKLIST_MAX} requests: narrow the worklist by service or specialty`,
      );
    const requests = found.sort((a, b) =>
      (firstRequestedOf(a.resource) ?? '').localeCompare(firstRequestedOf(b.resource) ?? ''),
    );
    const serviceIds = [...new Set(requests.map((r) => adviceServiceOf(r.resource)))];
    const names = new Map(
      (await this.store.readMany(HEALTHCARE_SERVICE, serviceIds)).map((s) => [
        s.id,
        s.resource.name ?? s.id,
      ]),
    );
    // one audit record per listed patient, appended together (one group commit, not one each)
    await this.audit.append(
      ...requests.map((r) =>
        auditRecord(ctx, 'ers.advice.worklist', advicePatientOf(r.resource), 'success', {
          ubrn: r.id,
          version: r.version,
        }),
      ),
    );
    return { requests, names };
  }

  /**
   * a026: the provider answers with guidance (RETURN_TO_REFERRER_WITH_ADVICE) or asks for more
   * (REQUIRE_FURTHER_INFORMATION), at the version it last read (If-Match).
   */
  respond(
    ctx: RequestContext,
    caller: ErsCaller,
    ubrn: string,
    ifMatch: number,
    body: unknown,
  ): Promise<AdviceExchange> {
    requirePublishedFunction(caller, 'respond');
    return writeOnce(this.store, ctx, {
      answers: ADVICE_REQUEST,
      asBefore: (earlier) => this.exchangeOf(earlier),
      write: async ({ record }) => {
        const answer = parseSendResponse(body);
        const stored = await visibleAdvice(this, ctx, caller.ods, ubrn, 'ers.advice.respond', [
          'provider',
        ]);
        const state = adviceTransition(
          adviceStateOf(stored.resource),
          answer.outcome === 'REQUIRE_FURTHER_INFORMATION'
            ? 'requestFurtherInformation'
            : 'returnWithAdvice',
        );
        requireAdviceVersion(stored.version, ifMatch);
        await this.requirePriority(adviceServiceOf(stored.resource), answer.priority);
        const version = stored.version + 1;
        const time = this.now().toISOString();
        const message = await providerReply(this.store, ctx, caller, stored, {
          text: answer.guidance,
          attachments: answer.attachments,
          time,
          outcome: {
            outcome: answer.outcome,
            ...(answer.recommendation ? { recommendation: answer.recommendation } : {}),
          },
        });
        const n = messageCountOf(stored.resource) + 1;
        const next = nextAdviceRequest(stored.resource, state, n, answer.priority);
        const [saved, sent] = await commitAdviceChange(this.store, {
          resources: adviceWrites(next, stored.version, message),
          audit: [
            auditRecord(ctx, 'ers.advice.respond', advicePatientOf(next), 'success', {
              ubrn,
              outcome: answer.outcome,
              recommendation: answer.recommendation,
              businessFunction: caller.businessFunction,
              attachments: answer.attachments.length,
            }),
          ],
          messages: [adviceMessage(ERS_ADVICE_RESPONDED, next, version, time, answer.outcome)],
          request: record({ status: 200, resourceType: ADVICE_REQUEST, resourceId: ubrn, version }),
        });
        return { request: saved, message: sent } as AdviceExchange;
      },
    });
  }

  /** 422 UNSUPPORTED_PRIORITY unless the service (as the directory holds it now) takes `priority`. */
  async requirePriority(serviceId: string, priority: string): Promise<void> {
    const service = await this.store.read(HEALTHCARE_SERVICE, serviceId);
    const profile = service ? ersProfileOf(service.resource) : undefined;
    if (profile && !(profile.priorities as readonly string[]).includes(priority))
      throw ersError(
        422,
        'business-rule',
        'UNSUPPORTED_PRIORITY',
        `Service ${serviceId} does not take ${priority} requests (it takes ${profile.priorities.join(', ')})`,
      );
  }

  /** The answer a write gave, from the request version it recorded: that version and its last message. */
  async exchangeOf({ stored: request }: EarlierAnswer<AdviceRequest>): Promise<AdviceExchange> {
    const message = await this.store.read(
      ADVICE_MESSAGE,
      messageId(request.id, messageCountOf(request.resource)),
    );
    if (!message)
      throw new Error(`advice and guidance request ${request.id} has lost its last message`);
    return { request, message };
  }
}
