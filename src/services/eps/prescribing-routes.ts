import type { Patient } from 'fhir/r4.js';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { FhirError } from '../../fhir/errors.js';
import { FHIR_JSON } from '../../fhir/media-types.js';
import type { Repository } from '../../store/repository.js';
import { bundleDigest } from './canonical-digest.js';
import { publishedCancellationAnswer } from './cancellation-answer.js';
import { validateCancellation, type ValidCancellation } from './cancellation-rules.js';
import { readMessageBundle } from './message-bundle.js';
import { assignIds, validateOrder, type ValidOrder } from './order-rules.js';
import { requirePrescribablePatient } from './prescribing-service.js';
import { cancelOnce, dispenseOnce, submitOrderOnce } from './once-service.js';
import { recordOfBody, setSubject, subjectOfBody } from '../request-subject.js';
import { validateDispense, type ValidDispense } from './dispense-rules.js';

type Prescribing =
  | { kind: 'order'; order: ValidOrder; patient: Patient }
  | { kind: 'cancel'; cancel: ValidCancellation }
  | { kind: 'dispense'; dispense: ValidDispense };

/**
 * A message Bundle whose MessageHeader says it is a dispense notification (read before validation:
 * the caller's activity depends on it).
 */
function isDispenseNotification(body: unknown): boolean {
  const header = (
    body as {
      entry?: { resource?: { resourceType?: unknown; eventCoding?: { code?: unknown } } }[];
    } | null
  )?.entry?.[0]?.resource;
  return (
    header?.resourceType === 'MessageHeader' && header.eventCoding?.code === 'dispense-notification'
  );
}

/**
 * Prescriber routes: $prepare (the canonical digest to sign, with ids assigned when the order has
 * none) and $process-message (a signed prescription-order, or a prescription-order-update
 * cancelling items). Validation, including an unknown or superseded patient, happens before the
 * platform's relationship check so each gets its own answer.
 */
export function prescribingRoutes(repo: Repository, baseUrl: string) {
  const checked = new WeakMap<FastifyRequest, Prescribing>();
  const assignedIds = new WeakSet<FastifyRequest>();
  const config = {
    fhirApi: true,
    activity: 'eps.prescribe',
    patientFrom: { body: subjectOfBody, record: recordOfBody },
  } as const;

  return async function plugin(app: FastifyInstance): Promise<void> {
    app.post(
      '/$prepare',
      {
        // the answer is the caller's own message with ids and a digest: it must come back as sent
        config: { ...config, locationRelease: 'echo' },
        preValidation: async (req) => {
          if (assignIds(req.body, req.ctx.principal!.org).assigned) assignedIds.add(req);
          const order = validateOrder(req.body, req.ctx.principal!.org);
          const patient = await requirePrescribablePatient(repo, order.nhsNumber);
          setSubject(req, order.nhsNumber, patient);
        },
      },
      async (req, reply) => {
        const bundle = req.body as Record<string, any>;
        const digest = bundleDigest(bundle);
        return reply.type(FHIR_JSON).send({
          resourceType: 'Parameters',
          parameter: [
            { name: 'digest', valueString: digest },
            { name: 'timestamp', valueString: new Date().toISOString() },
            {
              name: 'algorithm',
              valueString:
                'ES256 or RS256: sign the digest as the payload of a compact JWS whose header names your registered key (kid)',
            },
            // the message goes back only when ids were assigned to it: that is the one to sign
            ...(assignedIds.has(req) ? [{ name: 'message', resource: bundle }] : []),
          ],
        });
      },
    );

    // one published path for prescribers' messages and pharmacies' dispense notifications: the
    // MessageHeader event decides which activity the caller needs (eps.dispense for a notification)
    app.post(
      '/$process-message',
      {
        config: { ...config, bodyActivity: { also: 'eps.dispense', when: isDispenseNotification } },
        preValidation: async (req) => {
          const org = req.ctx.principal!.org;
          const { event } = readMessageBundle(req.body, [
            'prescription-order',
            'prescription-order-update',
            'dispense-notification',
          ]);
          if (event === 'dispense-notification') {
            const dispense = validateDispense(req.body);
            checked.set(req, { kind: 'dispense', dispense });
            setSubject(req, dispense.nhsNumber);
          } else if (event === 'prescription-order') {
            const order = validateOrder(req.body, org);
            const patient = await requirePrescribablePatient(repo, order.nhsNumber);
            checked.set(req, { kind: 'order', order, patient });
            setSubject(req, order.nhsNumber, patient);
          } else {
            const cancel = validateCancellation(req.body, org);
            checked.set(req, { kind: 'cancel', cancel });
            setSubject(req, cancel.nhsNumber);
          }
        },
      },
      async (req, reply) => {
        const work = checked.get(req);
        if (!work) throw new FhirError(400, 'INVALID_VALUE', 'The message could not be read');
        if (work.kind === 'dispense') {
          await dispenseOnce(repo, req.ctx, work.dispense);
          // as EPS answers an accepted dispense notification; the Tasks are at GET
          // /Task?focus:identifier=<short-form ID>
          return reply.type(FHIR_JSON).send({
            resourceType: 'OperationOutcome',
            meta: { lastUpdated: new Date().toISOString() },
            issue: [{ severity: 'information', code: 'informational' }],
          });
        }
        if (work.kind === 'order') {
          const result = await submitOrderOnce(repo, req.ctx, work.order, work.patient);
          if (result.duplicate) reply.header('x-eps-duplicate', 'true');
          // as EPS answers an accepted prescription-order: an informational OperationOutcome (the
          // prescription's Tasks are at GET /Task?focus:identifier=<short-form ID>)
          const first = result.issues[0];
          return reply.type(FHIR_JSON).send({
            resourceType: 'OperationOutcome',
            issue: [
              {
                severity: 'information',
                code: 'informational',
                diagnostics: `Prescription ${first.shortFormId} accepted (${result.issues.length} issue${result.issues.length === 1 ? '' : 's'})`,
              },
            ],
          });
        }
        // as EPS answers a prescription-order-update: a prescription-order-response Bundle with a
        // cancellation response code (R-) per item, 200 or 400, or a 400 OperationOutcome with the code
        const answer = publishedCancellationAnswer(
          await cancelOnce(repo, req.ctx, work.cancel),
          req.body as Record<string, any>,
          baseUrl,
        );
        return reply.code(answer.status).type(FHIR_JSON).send(answer.body);
      },
    );
  };
}
