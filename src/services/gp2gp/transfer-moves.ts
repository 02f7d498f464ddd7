/**
 * The moves of a transfer after its request: $send by the old practice (the EHR and its attachment
 * manifest) and $acknowledge (accepted, or rejected with a reason). Apart from the service so the
 * state-changing moves sit together, away from reads and searches.
 */
import type { Task } from 'fhir/r4.js';
import { FhirError } from '../../fhir/errors.js';
import { parameterValue, parametersOf } from '../../fhir/parameters.js';
import type { RequestContext } from '../../context.js';
import { writeOnce } from '../write-once.js';
import type { StoredResource, ResourceStore } from '../../store/resource-store.js';
import { ehrWrite } from './chunk-store.js';
import type { Gp2gpOptions } from './options.js';
import { NEGATIVE_REASONS, parseSendRequest } from './send-request.js';
import { patientOf, stateOf, TASK, withManifest } from './transfer-model.js';
import { asBefore } from './transfer-request.js';
import { commitMove } from './transfer-store.js';
import { transition, type Actor } from './transitions.js';

/** $send by the old practice, on a transfer it has loaded: the EHR Bundle and the attachment manifest. */
export async function sendRecord(
  repo: ResourceStore,
  options: Gp2gpOptions,
  baseUrl: string,
  ctx: RequestContext,
  stored: StoredResource<Task>,
  actor: Actor,
  body: unknown,
): Promise<StoredResource<Task>> {
  const nhsNumber = patientOf(stored.resource);
  // who and when first, so a wrong party or a wrong state is told so before its body is judged
  transition(stateOf(stored.resource), 'send', actor);
  const req = parseSendRequest(body, nhsNumber, options);
  const now = options.now();
  const complete = req.attachments.length === 0;
  return commitMove(repo, ctx, stored, {
    action: complete ? 'send-complete' : 'send',
    actor,
    now,
    deadline: new Date(
      now.getTime() + (complete ? options.ackTimeoutMs : options.sendingTimeoutMs),
    ),
    change: (task) => withManifest(task, req.attachments, baseUrl),
    alsoWrite: [ehrWrite(stored.id, nhsNumber, req.ehr)],
    audit: {
      action: 'gp2gp.send',
      detail: {
        entries: req.ehr.entry!.length,
        attachments: req.attachments.length,
        bytes: req.attachments.reduce((n, a) => n + a.size, 0),
      },
    },
  });
}

/**
 * $acknowledge on a transfer the caller has loaded: the new practice's positive or negative
 * acknowledgement of a sent record, or the old practice's negative answer to a request.
 */
export async function acknowledgeTransfer(
  repo: ResourceStore,
  options: Gp2gpOptions,
  ctx: RequestContext,
  stored: StoredResource<Task>,
  actor: Actor,
  body: unknown,
): Promise<StoredResource<Task>> {
  // a retry (same X-Request-ID, same request) gets the Task as the acknowledgement left it
  return writeOnce(repo, ctx, {
    answers: TASK,
    asBefore,
    write: async ({ record }) => {
      const params = parametersOf(body);
      const outcome = parameterValue(params, 'outcome');
      if (outcome !== 'accepted' && outcome !== 'rejected')
        throw new FhirError(
          400,
          'INVALID_VALUE',
          "Invalid value - parameter 'outcome' must be 'accepted' or 'rejected'",
        );
      const reason = parameterValue(params, 'reason');
      const text = parameterValue(params, 'text');
      if (outcome === 'rejected' && (!reason || !Object.hasOwn(NEGATIVE_REASONS, reason))) {
        throw new FhirError(
          400,
          'INVALID_VALUE',
          `Invalid value - a negative acknowledgement needs parameter 'reason', one of ${Object.keys(NEGATIVE_REASONS).join(', ')}`,
        );
      }
      const now = options.now();
      const action =
        outcome === 'accepted' ? 'accept' : actor === 'owner' ? 'reject' : 'reject-ack';
      return commitMove(repo, ctx, stored, {
        action,
        actor,
        now,
        reason:
          outcome === 'rejected'
            ? { code: reason!, text: text?.slice(0, 500) || NEGATIVE_REASONS[reason!] }
            : undefined,
        audit: {
          action: 'gp2gp.acknowledge',
          detail: { outcome, ...(reason ? { reason } : {}) },
        },
        request: record,
      });
    },
  });
}
