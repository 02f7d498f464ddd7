import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import { FHIR_JSON } from '../../fhir/media-types.js';
import type { Activity } from '../../security/policy.js';
import { ERS_BUSINESS_FUNCTIONS } from '../../security/policy.js';
import { described, pathParams } from '../route-schemas.js';
import { ErsError, ersError, ersOutcome } from './ers-errors.js';
import { binaryUrl, FILE_TYPES, MAX_FILE_BYTES } from './attachment-model.js';
import { FILE_NAME_HEADER, parseUpload, REFERRAL_ID_HEADER } from './attachment-rules.js';
import { AttachmentService } from './attachment-service.js';
import { ERS_HEADERS } from './ers-route-kit.js';
import type { ServiceDeps } from '../service-deps.js';
import { BUSINESS_FUNCTION_HEADER, parseErsCaller, type ErsCaller } from './referral-rules.js';

interface BinaryParams {
  attachmentLogicalID: string;
}

const UPLOAD_HEADERS = {
  ...ERS_HEADERS,
  [FILE_NAME_HEADER]: 'the name of the file being uploaded, including the extension',
  [REFERRAL_ID_HEADER]: 'the UBRN of the referral the file is for (needed to attach it: a012)',
};

/**
 * The activities an upload may be for: a referrer's letter (a012), a provider's triage response
 * (a028) or advice (a026/a027). The route's role check is ers.referral.letter; the business
 * function must allow one of these (a020 is published for referrers and providers alike).
 */
const UPLOAD_PURPOSES: readonly Activity[] = [
  'ers.referral.letter',
  'ers.referral.review',
  'ers.advice',
];

/** The business functions a006, a007 and a020 are published for (their Pre-requisites). */
const CLINICAL_FUNCTIONS = [
  'REFERRING_CLINICIAN',
  'REFERRING_CLINICIAN_ADMIN',
  'SERVICE_PROVIDER_CLINICIAN',
  'SERVICE_PROVIDER_CLINICIAN_ADMIN',
];

/** The caller, when its business function is one the operation is published for (403 NO_ACCESS). */
export function clinicalCaller(caller: ErsCaller): ErsCaller {
  if (!CLINICAL_FUNCTIONS.includes(caller.businessFunction))
    throw ersError(
      403,
      'forbidden',
      'NO_ACCESS',
      'User does not have the required Business Function at the specified Organisation.',
    );
  return caller;
}

/** A Content-Disposition naming the file; a non-ASCII name is given as RFC 6266 filename* too. */
export function contentDisposition(fileName: string): string {
  const ascii = fileName.replace(/[^\x20-\x7e]/g, '_');
  if (ascii === fileName) return `attachment; filename="${fileName}"`;
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(fileName)}`;
}

/**
 * The e-RS document store: upload a file (a020, POST /Binary, raw bytes) and retrieve one (a006,
 * GET /Binary/{attachmentLogicalID}). Its own scope: the published file types are read as bytes
 * here and nowhere else, any other type is 415, and a body over 5MB is a020's 422 FILE_SIZE_ERROR.
 */
export function attachmentRoutes({ store, audit }: Pick<ServiceDeps, 'store' | 'audit'>) {
  const service = new AttachmentService(store, audit);
  const uploadCaller = (req: FastifyRequest) => {
    const fn = req.headers[BUSINESS_FUNCTION_HEADER];
    const allowed =
      typeof fn === 'string' && Object.hasOwn(ERS_BUSINESS_FUNCTIONS, fn)
        ? ERS_BUSINESS_FUNCTIONS[fn]
        : [];
    const purpose = UPLOAD_PURPOSES.find((a) => allowed.includes(a)) ?? 'ers.referral.letter';
    return parseErsCaller(req.headers, purpose, req.ctx.principal, true);
  };

  return async function plugin(app: FastifyInstance): Promise<void> {
    app.setErrorHandler((err: FastifyError, _request, reply) => {
      const ers =
        err instanceof ErsError
          ? err
          : err.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
            ? ersError(
                422,
                'value',
                'FILE_SIZE_ERROR',
                `The file is larger than the ${MAX_FILE_BYTES} bytes (5MB) e-RS accepts`,
              )
            : undefined;
      if (!ers) throw err;
      return reply.code(ers.status).type(FHIR_JSON).send(ersOutcome(ers));
    });
    // Fastify reads text/plain as a string by default; here every published type is bytes
    app.removeContentTypeParser('text/plain');
    app.addContentTypeParser(Object.keys(FILE_TYPES), { parseAs: 'buffer' }, (_req, body, done) =>
      done(null, body),
    );
    app.addContentTypeParser('*', (req, _payload, done) =>
      done(
        ersError(
          415,
          'not-supported',
          'INVALID_VALUE',
          `Content-Type '${String(req.headers['content-type']).slice(0, 80)}' is not a file type e-RS accepts`,
        ),
      ),
    );

    const upload = { fhirApi: true, activity: 'ers.referral.letter' } as const;
    const read = { fhirApi: true, activity: 'ers.referral.read' } as const;

    app.post(
      '/Binary',
      { schema: { headers: described(UPLOAD_HEADERS) }, config: upload, bodyLimit: MAX_FILE_BYTES },
      async (req, reply) => {
        const who = uploadCaller(req);
        const stored = await service.upload(req.ctx, who, parseUpload(req.headers, req.body));
        return reply.code(201).header('location', binaryUrl(stored.id)).send();
      },
    );

    app.get<{ Params: BinaryParams }>(
      '/Binary/:attachmentLogicalID',
      {
        schema: { params: pathParams('attachmentLogicalID'), headers: described(ERS_HEADERS) },
        config: read,
      },
      async (req, reply) => {
        const who = clinicalCaller(
          parseErsCaller(req.headers, read.activity, req.ctx.principal, true),
        );
        const { attachment, bytes } = await service.read(
          req.ctx,
          who,
          req.params.attachmentLogicalID,
        );
        return reply
          .code(200)
          .type(attachment.contentType)
          .header('content-disposition', contentDisposition(attachment.fileName))
          .header('content-length', String(bytes.length))
          .send(bytes);
      },
    );
  };
}
