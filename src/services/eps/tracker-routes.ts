import type { FastifyInstance, FastifyRequest } from 'fastify';
import { FhirError } from '../../fhir/errors.js';
import { requireNhsNumber } from '../../fhir/nhs-number.js';
import { nhsNumberFromReference } from '../../fhir/parameters.js';
import { FHIR_JSON } from '../../fhir/media-types.js';
import type { Activity } from '../../security/policy.js';
import type { ResourceStore } from '../../store/resource-store.js';
import type { EpsPrescription } from './prescription-model.js';
import { issuesByShortForm } from './release-service.js';
import { setSubject, subjectOfBody } from '../request-subject.js';
import { isValidShortFormId } from './short-form-id.js';
import { taskBundle } from './task-view.js';
import { trackPrescriptions } from './tracker.js';
import { queryParams } from '../route-schemas.js';

/** The activity the tracker needs: held by prescribers, dispensers and patients (their own prescriptions only). */
export const TRACKER_ACTIVITY: Activity = 'eps.track';
/** EPS answers a tracker query it cannot run with issue.code 'invalid' (examples/spec/errors/task/query-error.json). */
const QUERY_ERROR = { issueCode: 'invalid' } as const;
const queryError = (
  code: 'INVALID_SEARCH_DATA' | 'INVALID_PRESCRIPTION_ID' | 'INVALID_RESOURCE_ID',
  why: string,
) => new FhirError(400, code, why, {}, QUERY_ERROR);

function oneQuery(req: FastifyRequest, name: string): string | undefined {
  const raw = (req.query as Record<string, unknown>)[name];
  if (Array.isArray(raw)) throw queryError('INVALID_SEARCH_DATA', `Give one '${name}'`);
  if (typeof raw !== 'string' || raw === '') return undefined;
  return raw.slice(raw.lastIndexOf('|') + 1);
}

/**
 * Tracker: GET /Task?focus:identifier=<short-form ID> or ?patient:identifier=<NHS Number>: every
 * issue with its full history.
 */
export function trackerRoutes(repo: ResourceStore, baseUrl: string) {
  const found = new WeakMap<FastifyRequest, EpsPrescription[] | string>();

  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get(
      '/Task',
      {
        schema: { querystring: queryParams(['focus:identifier', 'patient:identifier']) },
        config: {
          fhirApi: true,
          activity: TRACKER_ACTIVITY,
          patientFrom: { body: subjectOfBody },
          searchParams: ['focus:identifier', 'patient:identifier'],
        },
        preValidation: async (req) => {
          const focus = oneQuery(req, 'focus:identifier');
          const patient = oneQuery(req, 'patient:identifier');
          if ((focus === undefined) === (patient === undefined))
            throw queryError(
              'INVALID_SEARCH_DATA',
              "Search by exactly one of 'focus:identifier' (short-form prescription ID) or 'patient:identifier' (NHS Number)",
            );
          if (focus !== undefined) {
            if (!isValidShortFormId(focus))
              throw queryError(
                'INVALID_PRESCRIPTION_ID',
                `'${focus.slice(0, 24)}' is not a valid short-form prescription ID`,
              );
            const issues = (await issuesByShortForm(repo, focus)).map((s) => s.resource);
            if (issues.length === 0)
              throw new FhirError(404, 'PRESCRIPTION_NOT_FOUND', `Prescription ${focus} not found`);
            found.set(req, issues);
            setSubject(req, issues[0].nhsNumber);
          } else {
            const nhs = nhsNumberFromReference(patient!);
            requireNhsNumber(nhs, undefined, {
              diagnostics: (shown) => `'${shown}' is not a valid NHS Number`,
              issue: QUERY_ERROR,
            });
            found.set(req, nhs);
            setSubject(req, nhs);
          }
        },
      },
      async (req, reply) => {
        const issues = await trackPrescriptions(repo, req.ctx, found.get(req)!);
        return reply.type(FHIR_JSON).send(taskBundle(issues, baseUrl));
      },
    );
  };
}
