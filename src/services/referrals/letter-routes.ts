import type { FastifyInstance, FastifyReply } from 'fastify';
import { described, pathParams } from '../route-schemas.js';
import { clinicalCaller, contentDisposition } from './attachment-routes.js';
import { useErsErrors } from './ers-errors.js';
import { LetterService, type PdfAnswer } from './letter-service.js';
import { PatientLetterService } from './patient-letter.js';
import { ERS_HEADERS, OBO_HEADER, ersCaller, sendReferral } from './ers-route-kit.js';
import type { ServiceDeps } from '../service-deps.js';
import { parseErsIfMatch, parseUbrn } from './referral-rules.js';

interface UbrnParams {
  ubrn: string;
}

function sendPdf(reply: FastifyReply, answer: PdfAnswer) {
  return reply
    .code(200)
    .type('application/pdf')
    .header('content-disposition', contentDisposition(answer.fileName))
    .header('content-length', String(answer.pdf.length))
    .send(answer.pdf);
}

/**
 * A referral's letter and printed documents: $ers.maintainReferralLetter (a012),
 * $ers.generatePatientLetter (a019, PDF) and $ers.generateCRI (a007, the clinical information
 * summary, PDF). Each route reads the published headers and makes one call into its service.
 */
export function letterRoutes({ store, audit }: Pick<ServiceDeps, 'store' | 'audit'>) {
  const letters = new LetterService(store, audit);
  const patientLetters = new PatientLetterService(store, audit);

  return async function plugin(app: FastifyInstance): Promise<void> {
    useErsErrors(app);
    const letter = { fhirApi: true, activity: 'ers.referral.letter' } as const;
    const read = { fhirApi: true, activity: 'ers.referral.read' } as const;

    app.post<{ Params: UbrnParams }>(
      '/ReferralRequest/:ubrn/$ers.maintainReferralLetter',
      {
        schema: {
          params: pathParams('ubrn'),
          headers: described({
            ...ERS_HEADERS,
            'if-match': 'W/"<version>" of the referral last read',
          }),
        },
        config: letter,
      },
      async (req, reply) => {
        const who = ersCaller(req, letter.activity, false);
        const ubrn = parseUbrn(req.params.ubrn);
        const version = parseErsIfMatch(req.headers['if-match']);
        const saved = await letters.maintain(req.ctx, who, ubrn, version, req.body);
        return sendReferral(reply, saved);
      },
    );

    app.post<{ Params: UbrnParams }>(
      '/ReferralRequest/:ubrn/$ers.generatePatientLetter',
      { schema: { params: pathParams('ubrn'), headers: described(ERS_HEADERS) }, config: letter },
      async (req, reply) => {
        const who = ersCaller(req, letter.activity, false);
        return sendPdf(
          reply,
          await patientLetters.generate(req.ctx, who, parseUbrn(req.params.ubrn)),
        );
      },
    );

    app.post<{ Params: UbrnParams }>(
      '/ReferralRequest/:ubrn/$ers.generateCRI',
      {
        schema: {
          params: pathParams('ubrn'),
          headers: described({ ...ERS_HEADERS, ...OBO_HEADER }),
        },
        config: read,
      },
      async (req, reply) => {
        const who = clinicalCaller(ersCaller(req, read.activity, true));
        return sendPdf(
          reply,
          await letters.clinicalInformation(req.ctx, who, parseUbrn(req.params.ubrn)),
        );
      },
    );
  };
}
