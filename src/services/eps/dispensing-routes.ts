import type { FastifyInstance, FastifyRequest } from 'fastify';
import { auditRecord } from '../../audit/audit-record.js';
import { FhirError } from '../../fhir/errors.js';
import { parametersOf, parameterValue } from '../../fhir/parameters.js';
import { FHIR_JSON } from '../../fhir/media-types.js';
import type { RequestContext } from '../../context.js';
import type { StoredResource, ResourceStore } from '../../store/resource-store.js';
import { validateClaim } from './claim-rules.js';
import { validateDispense } from './dispense-rules.js';
import {
  claimOnce,
  dispenseOnce,
  releaseOnce,
  releaseQueueOnce,
  returnOnce,
  withdrawOnce,
} from './once-service.js';
import { list, ORDER_NUMBER_SYSTEM } from './message-bundle.js';
import { ensurePrescriptionRelationship } from './prescription-relationship.js';
import { PRESCRIPTION, type EpsPrescription } from './prescription-model.js';
import {
  issuesByShortForm,
  MAX_NOMINATED_RELEASE,
  nominatedQueue,
  releasableIssue,
  releaseBundleJson,
  releaseRefusalBody,
  WithAnotherDispenser,
} from './release-service.js';
import { setSubject, subjectOfBody } from '../request-subject.js';
import { isValidShortFormId } from './short-form-id.js';
import { taskBundle } from './task-view.js';
import { ODS_SYSTEM } from '../../fhir/identifiers.js';

const DEFAULT_NOMINATED_RELEASE = 25;
type Params = ReturnType<typeof parametersOf>;

function shortFormParam(params: Params, required: true): string;
function shortFormParam(params: Params, required: false): string | undefined;
function shortFormParam(params: Params, required: boolean): string | undefined {
  const value = parameterValue(params, 'group-identifier');
  if (value === undefined && !required) return undefined;
  if (!value || !isValidShortFormId(value))
    throw new FhirError(
      400,
      'INVALID_PRESCRIPTION_ID',
      `Parameter 'group-identifier' must be a valid short-form prescription ID, not '${String(value ?? '').slice(0, 24)}'`,
    );
  return value;
}

function reasonParam(params: Params): { code: string; display?: string } {
  const p = params.find((q) => q.name === 'reason') as
    { valueCoding?: { code?: unknown; display?: unknown }; valueString?: unknown } | undefined;
  const code = p?.valueCoding?.code ?? p?.valueString;
  if (typeof code !== 'string' || code.length === 0 || code.length > 200)
    throw new FhirError(
      400,
      'MISSING_VALUE',
      "Parameter 'reason' (valueCoding or valueString) is required",
    );
  const display = p?.valueCoding?.display;
  return { code, ...(typeof display === 'string' ? { display } : {}) };
}

/** The owner a release names must be the caller's own pharmacy. */
function checkOwner(params: Params, org: string): void {
  const owner = params.find((q) => q.name === 'owner') as
    { resource?: { identifier?: unknown } } | undefined;
  if (!owner) return;
  const code = list(owner.resource?.identifier).find((i) => i?.system === ODS_SYSTEM)?.value;
  if (typeof code !== 'string')
    throw new FhirError(
      400,
      'INVALID_VALUE',
      `Parameter 'owner' must be an Organization identified by its ODS code (${ODS_SYSTEM})`,
    );
  if (code.toUpperCase() !== org.toUpperCase())
    throw new FhirError(
      403,
      'ACCESS_DENIED',
      `A pharmacy may release only to itself: owner ${code.slice(0, 12)} is not ${org || '(no organisation)'}`,
    );
}

/** What a published return or withdraw Task asks for (POST /Task, as NHS England publishes it). */
interface TaskRequest {
  action: 'return' | 'withdraw';
  shortFormId: string;
  reason: { code: string; display?: string };
  notification?: string;
}

function taskRequest(body: unknown): TaskRequest {
  const task = body as Record<string, any>;
  if (!task || typeof task !== 'object' || task.resourceType !== 'Task')
    throw new FhirError(
      400,
      'INVALID_VALUE',
      'The request body must be a FHIR Task (a return or a withdrawal)',
    );
  const code = list(task.code?.coding).find(
    (c) => c?.system === 'http://hl7.org/fhir/CodeSystem/task-code',
  )?.code;
  const action = code === 'abort' ? 'withdraw' : task.status === 'rejected' ? 'return' : undefined;
  if (!action)
    throw new FhirError(
      400,
      'INVALID_VALUE',
      "Task.code 'abort' withdraws a dispense notification; Task.status 'rejected' returns the prescription to Spine",
    );
  const group = task.groupIdentifier;
  const shortFormId = group?.system === ORDER_NUMBER_SYSTEM ? group.value : undefined;
  if (typeof shortFormId !== 'string' || !isValidShortFormId(shortFormId))
    throw new FhirError(
      400,
      'INVALID_PRESCRIPTION_ID',
      `Task.groupIdentifier must carry a valid short-form prescription ID (${ORDER_NUMBER_SYSTEM})`,
    );
  const why = list(task.statusReason?.coding).find((c) => typeof c?.code === 'string');
  if (!why || why.code.length > 200)
    throw new FhirError(400, 'MISSING_VALUE', 'Task.statusReason must give the reason coded');
  const notification =
    action === 'withdraw' && typeof task.focus?.identifier?.value === 'string'
      ? task.focus.identifier.value.toLowerCase()
      : undefined;
  return {
    action,
    shortFormId,
    reason: {
      code: why.code,
      ...(typeof why.display === 'string' ? { display: why.display } : {}),
    },
    ...(notification ? { notification } : {}),
  };
}

/** The published answer to an accepted return or withdrawal. */
const INFORMATIONAL = {
  resourceType: 'OperationOutcome',
  issue: [{ severity: 'information', code: 'informational' }],
};

/**
 * Dispenser routes: Task/$release (nominated queue or a token's short-form ID), dispense
 * notifications, withdrawal, return to Spine and claims. Each finds its prescription in
 * preValidation so the platform can check the pharmacy's relationship with the patient.
 */
export function dispensingRoutes(repo: ResourceStore, baseUrl: string) {
  const found = new WeakMap<FastifyRequest, unknown>();
  const config = {
    fhirApi: true,
    activity: 'eps.dispense',
    patientFrom: { body: subjectOfBody },
  } as const;

  /** The issues of the short-form ID in the Parameters; their patient is the request's subject. */
  async function subjectFromShortForm(
    req: FastifyRequest,
  ): Promise<{ params: Params; shortFormId: string; issues: StoredResource<EpsPrescription>[] }> {
    const params = parametersOf(req.body);
    const shortFormId = shortFormParam(params, true);
    const issues = await issuesByShortForm(repo, shortFormId);
    if (issues.length === 0)
      throw new FhirError(404, 'PRESCRIPTION_NOT_FOUND', `Prescription ${shortFormId} not found`);
    setSubject(req, issues[0].resource.nhsNumber);
    return { params, shortFormId, issues };
  }

  /**
   * A route whose body names its own patient (a dispense notification, a claim): validated in
   * preValidation, where the patient becomes the request's subject, then recorded.
   */
  function messageRoute<M extends { nhsNumber: string }>(
    app: FastifyInstance,
    url: string,
    validate: (body: unknown) => M,
    record: (repo: ResourceStore, ctx: RequestContext, message: M) => Promise<EpsPrescription>,
  ): void {
    app.post(
      url,
      {
        config,
        preValidation: async (req) => {
          const message = validate(req.body);
          found.set(req, message);
          setSubject(req, message.nhsNumber);
        },
      },
      async (req, reply) => {
        await record(repo, req.ctx, found.get(req) as M);
        // as EPS answers an accepted dispense notification or claim; the Tasks are at GET
        // /Task?focus:identifier=<short-form ID>
        return reply
          .type(FHIR_JSON)
          .send({ ...INFORMATIONAL, meta: { lastUpdated: new Date().toISOString() } });
      },
    );
  }

  return async function plugin(app: FastifyInstance): Promise<void> {
    app.post(
      '/Task/$release',
      {
        config,
        // refused because another pharmacy holds it: answered as EPS publishes it, that pharmacy contained
        errorHandler: async (err, _req, reply) => {
          if (!(err instanceof WithAnotherDispenser)) throw err;
          return reply
            .code(err.status)
            .type(FHIR_JSON)
            .send(await releaseRefusalBody(repo, err));
        },
        preValidation: async (req, reply) => {
          const org = req.ctx.principal!.org;
          const params = parametersOf(req.body);
          checkOwner(params, org);
          const shortFormId = shortFormParam(params, false);
          if (shortFormId) {
            const issues = await issuesByShortForm(repo, shortFormId);
            const ready = releasableIssue(issues, shortFormId, org);
            const issue = ready.resource;
            setSubject(req, issue.nhsNumber);
            found.set(req, { kind: 'single', ready });
            // the patient brought the token here: that is this pharmacy's relationship with them
            if (issue.nominatedPharmacy !== org) {
              await ensurePrescriptionRelationship(
                repo,
                issue.nhsNumber,
                org,
                `token:${issue.shortFormId}`,
                issue.expires,
                [
                  auditRecord(
                    req.ctx,
                    'eps.relationship.token-presented',
                    issue.nhsNumber,
                    'success',
                    { shortFormId, org },
                  ),
                ],
              );
            }
            return;
          }
          const raw = params.find((q) => q.name === 'max-count') as
            { valueInteger?: unknown } | undefined;
          const limit = raw === undefined ? DEFAULT_NOMINATED_RELEASE : raw.valueInteger;
          if (
            !Number.isInteger(limit) ||
            (limit as number) < 1 ||
            (limit as number) > MAX_NOMINATED_RELEASE
          )
            throw new FhirError(
              400,
              'INVALID_VALUE',
              `Parameter 'max-count' must be an integer from 1 to ${MAX_NOMINATED_RELEASE}`,
            );
          const first = await nominatedQueue(repo, org, 1);
          const head = first.length ? await repo.read(PRESCRIPTION, first[0]) : null;
          if (!head)
            return reply.type(FHIR_JSON).send({
              resourceType: 'Bundle',
              type: 'searchset',
              timestamp: new Date().toISOString(),
              total: 0,
              entry: [],
            });
          // every issue in the queue was nominated to this pharmacy, which holds a relationship for each
          setSubject(req, head.resource.nhsNumber);
          found.set(req, { kind: 'nominated', limit });
        },
      },
      async (req, reply) => {
        const work = found.get(req) as
          { kind: 'single'; ready: StoredResource } | { kind: 'nominated'; limit: number };
        const released =
          work.kind === 'single'
            ? [await releaseOnce(repo, req.ctx, work.ready as StoredResource<EpsPrescription>)]
            : await releaseQueueOnce(repo, req.ctx, work.limit);
        return reply.type(FHIR_JSON).send(await releaseBundleJson(repo, released));
      },
    );

    messageRoute(app, '/MedicationDispense/$process-message', validateDispense, dispenseOnce);

    app.post(
      '/Task/$withdraw',
      {
        config,
        preValidation: async (req) => {
          found.set(req, await subjectFromShortForm(req));
        },
      },
      async (req, reply) => {
        const { params, shortFormId } = found.get(req) as { params: Params; shortFormId: string };
        const notification = parameterValue(params, 'dispense-notification');
        const p = await withdrawOnce(
          repo,
          req.ctx,
          shortFormId,
          notification,
          reasonParam(params).code,
        );
        return reply.type(FHIR_JSON).send(taskBundle([p], baseUrl, 'collection'));
      },
    );

    app.post(
      '/Task/$return',
      {
        config,
        preValidation: async (req) => {
          found.set(req, await subjectFromShortForm(req));
        },
      },
      async (req, reply) => {
        const { params, shortFormId } = found.get(req) as { params: Params; shortFormId: string };
        return reply
          .type(FHIR_JSON)
          .send(
            taskBundle(
              [await returnOnce(repo, req.ctx, shortFormId, reasonParam(params))],
              baseUrl,
              'collection',
            ),
          );
      },
    );

    messageRoute(app, '/Claim', validateClaim, claimOnce);

    // return and withdraw as NHS England publishes them: a Task posted to /Task
    app.post(
      '/Task',
      {
        config,
        preValidation: async (req) => {
          const work = taskRequest(req.body);
          const issues = await issuesByShortForm(repo, work.shortFormId);
          if (issues.length === 0)
            throw new FhirError(
              404,
              'PRESCRIPTION_NOT_FOUND',
              `Prescription ${work.shortFormId} not found`,
            );
          setSubject(req, issues[0].resource.nhsNumber);
          found.set(req, work);
        },
      },
      async (req, reply) => {
        const work = found.get(req) as TaskRequest;
        if (work.action === 'withdraw')
          await withdrawOnce(repo, req.ctx, work.shortFormId, work.notification, work.reason.code);
        else await returnOnce(repo, req.ctx, work.shortFormId, work.reason);
        return reply
          .type(FHIR_JSON)
          .send({ ...INFORMATIONAL, meta: { lastUpdated: new Date().toISOString() } });
      },
    );
  };
}
