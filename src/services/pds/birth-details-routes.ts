import type { FastifyInstance } from 'fastify';
import { etagFor } from '../../fhir/etag.js';
import { FhirError } from '../../fhir/errors.js';
import { FHIR_JSON } from '../../fhir/media-types.js';
import type { ServiceDeps } from '../service-deps.js';
import { BirthDetailsService, birthRecordForResponse } from './birth-details-service.js';
import { PDS_BASE } from './base-path.js';
import { methodRefusal, sendPublished, usePublishedErrors } from './published-errors.js';
import { refuseUnsupportedContentTypes } from './unsupported-request.js';
import { queryParams } from '../route-schemas.js';

/**
 * Birth notification from maternity systems (POST Patient/$process-birth-details, mounted under
 * the PDS base path): healthcare workers only; patient and application tokens are refused with
 * PDS's INVALID_METHOD.
 */
export function birthDetailsRoutes({
  store: repo,
  audit,
  publicUrl,
}: Pick<ServiceDeps, 'store' | 'audit' | 'publicUrl'>) {
  const service = new BirthDetailsService(repo, audit, publicUrl + PDS_BASE);
  return async function plugin(app: FastifyInstance): Promise<void> {
    refuseUnsupportedContentTypes(app);
    usePublishedErrors(app, methodRefusal);

    app.post<{ Querystring: Record<string, string | string[]> }>(
      '/Patient/$process-birth-details',
      {
        schema: { querystring: queryParams(['ignore_potential_matches'], "'true' or 'false'") },
        config: { fhirApi: true, activity: 'pds.birth-details' },
      },
      async (req, reply) => {
        for (const key of Object.keys(req.query)) {
          if (key !== 'ignore_potential_matches')
            throw new FhirError(
              400,
              'INVALID_SEARCH_DATA',
              `Invalid search data provided - '${key.slice(0, 40)}' is not a parameter of $process-birth-details`,
            );
        }
        const ignore = req.query.ignore_potential_matches;
        if (ignore !== undefined && ignore !== 'true' && ignore !== 'false')
          throw new FhirError(
            400,
            'INVALID_VALUE',
            `Invalid value - '${String(ignore).slice(0, 20)}' in parameter 'ignore_potential_matches'`,
          );
        const outcome = await service.process(req.ctx, req.body, ignore === 'true');
        if (!outcome.created)
          return sendPublished(reply, outcome.error.status, outcome.error.issue);
        const { patient, version, notificationId } = outcome.answer;
        return reply
          .code(201)
          .type(FHIR_JSON)
          .header('etag', etagFor(version))
          .header('notification-id', notificationId)
          .header('location', `${publicUrl}${PDS_BASE}/Patient/${patient.id}`)
          .send(birthRecordForResponse(patient));
      },
    );
  };
}
