/**
 * The R4 routes over referrals, A&G requests and their files: a041 (ServiceRequest ids by UBRN),
 * a042 (an attachment: 307 to a temporary location) and that location itself,
 * `Binary/{id}/$download?token=...`, which is public in the platform's sense (the link is the
 * credential: r4-download-links.ts). a042 checks the caller as a006 does (AttachmentService.read:
 * a party of a referral holding the file, the digest) before it makes a link; the download checks
 * the link and the digest again. Refusals are NHSDigital-OperationOutcomes (r4-errors.ts).
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { FHIR_JSON } from '../../fhir/media-types.js';
import { described, pathParams } from '../route-schemas.js';
import type { ServiceDeps } from '../service-deps.js';
import { contentDisposition } from './attachment-routes.js';
import { AttachmentService } from './attachment-service.js';
import { ErsError } from './ers-errors.js';
import { CLINICAL_FUNCTIONS, publishedCaller } from './r4-callers.js';
import {
  checkDownloadToken,
  DOWNLOAD_LINK_SECONDS,
  DOWNLOAD_OPERATION,
  downloadLinkKey,
  mintDownloadToken,
} from './r4-download-links.js';
import { forbidden, fromErsError, notFound, R4Error, useR4Errors } from './r4-errors.js';
import { REFERRALS_R4_BASE } from './r4-routes.js';
import {
  parseServiceRequestSearch,
  SERVICE_REQUEST_SEARCH_PARAMS,
  searchServiceRequests,
  serviceRequestSearchset,
  UBRN_SYSTEM,
} from './r4-service-requests.js';

/** e-RS's own R4 error codes (a042's 403 NO_RELATIONSHIP and 422 availability codes). */
export const ERS_R4_ERROR_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/ers-error-codes';

interface IdParams {
  id: string;
}
type Query = Record<string, string | string[] | undefined>;

const HEADERS = {
  'nhsd-ers-business-function':
    "the caller's e-RS Business Function (REFERRING_CLINICIAN(_ADMIN) or SERVICE_PROVIDER_CLINICIAN(_ADMIN))",
  'nhsd-end-user-organisation-ods': "the ODS code of the caller's organisation",
  'nhsd-ers-on-behalf-of-user-id': 'with SERVICE_PROVIDER_CLINICIAN_ADMIN: the clinician acted for',
};

/** a042's refusals from the a006 rule, in R4 words (published ForbiddenOrNoLR, 422Response). */
function attachmentRefusal(err: unknown): unknown {
  if (!(err instanceof ErsError)) return err;
  if (err.status === 403)
    return new R4Error(403, 'forbidden', ERS_R4_ERROR_SYSTEM, 'NO_RELATIONSHIP', err.diagnostics);
  if (err.status === 422)
    return new R4Error(422, 'invalid', ERS_R4_ERROR_SYSTEM, err.ersCode, err.diagnostics);
  return fromErsError(err);
}

export function r4RequestRoutes({
  publicUrl,
  store,
  audit,
  signingKey,
}: Pick<ServiceDeps, 'publicUrl' | 'store' | 'audit' | 'signingKey'>) {
  const baseUrl = publicUrl + REFERRALS_R4_BASE;
  const attachments = new AttachmentService(store, audit);
  const linkKey = downloadLinkKey(signingKey);
  const read = { fhirApi: true, activity: 'ers.referral.read' } as const;
  const clinical = (req: FastifyRequest) =>
    publishedCaller(req, read.activity, CLINICAL_FUNCTIONS, true);

  return async function plugin(app: FastifyInstance): Promise<void> {
    useR4Errors(app);

    // a041: the ServiceRequest ids of a UBRN the caller is a party to
    app.get<{ Querystring: Query }>(
      '/ServiceRequest',
      {
        schema: {
          querystring: described({ identifier: `[${UBRN_SYSTEM}|]UBRN (required)` }),
          headers: described(HEADERS),
        },
        config: { ...read, searchParams: SERVICE_REQUEST_SEARCH_PARAMS },
        exposeHeadRoute: false,
      },
      async (req, reply) => {
        const caller = clinical(req);
        const ubrn = parseServiceRequestSearch(req.query);
        const found = await searchServiceRequests({ store, audit }, req.ctx, caller.ods, ubrn);
        const self = `${baseUrl}/ServiceRequest?identifier=${encodeURIComponent(`${UBRN_SYSTEM}|${ubrn}`)}`;
        return reply
          .type(FHIR_JSON)
          .send(
            serviceRequestSearchset(
              found,
              self,
              (id) => `${baseUrl}/ServiceRequest/${id}`,
              randomUUID(),
            ),
          );
      },
    );

    // a042: 307 to a temporary location valid for this file only
    app.get<{ Params: IdParams }>(
      '/Binary/:id',
      {
        schema: { params: pathParams('id'), headers: described(HEADERS) },
        config: read,
        exposeHeadRoute: false,
      },
      async (req, reply) => {
        const caller = clinical(req);
        const id = req.params.id;
        await attachments.read(req.ctx, caller, id).catch((err: unknown) => {
          throw attachmentRefusal(err);
        });
        const token = mintDownloadToken(
          linkKey,
          id,
          new Date(Date.now() + DOWNLOAD_LINK_SECONDS * 1000),
        );
        return reply
          .code(307)
          .header('cache-control', 'no-store')
          .header(
            'location',
            `${baseUrl}/Binary/${encodeURIComponent(id)}/${DOWNLOAD_OPERATION}?token=${token}`,
          )
          .send();
      },
    );

    // the temporary location: the link is the credential (no token, no e-RS headers)
    app.get<{ Params: IdParams; Querystring: Query }>(
      `/Binary/:id/${DOWNLOAD_OPERATION}`,
      {
        schema: {
          params: pathParams('id'),
          querystring: described({ token: 'the signed, short-lived token a042 issued' }),
        },
        config: { public: true },
        exposeHeadRoute: false,
      },
      async (req, reply) => {
        const id = req.params.id;
        const refusal = checkDownloadToken(linkKey, id, req.query.token, new Date());
        if (refusal === 'expired')
          throw forbidden('The download link has expired: retrieve the attachment again (a042)');
        if (refusal) throw forbidden('The download link is not valid for this attachment');
        const { attachment, bytes } = await attachments
          .download(req.ctx, id)
          .catch((err: unknown) => {
            throw err instanceof ErsError && err.status === 404
              ? notFound(err.diagnostics)
              : attachmentRefusal(err);
          });
        return reply
          .code(200)
          .type(attachment.contentType)
          .header('cache-control', 'no-store')
          .header('content-disposition', contentDisposition(attachment.fileName))
          .header('content-length', String(bytes.length))
          .send(bytes);
      },
    );
  };
}
