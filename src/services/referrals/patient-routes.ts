import type { FastifyInstance, FastifyRequest } from 'fastify';
import { etagFor } from '../../fhir/etag.js';
import { FHIR_JSON } from '../../fhir/media-types.js';
import type { Activity } from '../../security/policy.js';
import { setSubject, subjectOfBody } from '../request-subject.js';
import { pathParams } from '../route-schemas.js';
import { sendReferral } from './ers-route-kit.js';
import { ersError, useErsErrors } from './ers-errors.js';
import { PatientReferralService } from './patient-service.js';
import { REFERRALS_BASE } from './routes.js';
import type { ServiceDeps } from '../service-deps.js';
import { parseUbrn } from './referral-rules.js';
import { cancelledView } from './referral-views.js';

/**
 * OpenSpine's patient routes for e-Referrals (not part of the published supplier API, which serves
 * professionals): a patient signed in with NHS login (P9) lists and reads their own referrals and,
 * with the password of its letter, cancels one.
 */
export const PATIENT_REFERRALS_BASE = '/referrals/patient';

interface UbrnParams {
  ubrn: string;
}

/**
 * The patient a request is about is the caller: the route hands the token's NHS Number to the
 * platform's access check through the request's subject (request-subject.ts, as EPS does), which
 * runs after preValidation.
 */
async function callerIsSubject(req: FastifyRequest): Promise<void> {
  const nhs = req.ctx.principal?.kind === 'patient' ? req.ctx.principal.nhsNumber : undefined;
  if (nhs) setSubject(req, nhs);
}

/**
 * A patient route's options: its activity, the caller named as the request's patient, FHIR
 * conventions. Other patient route tables under PATIENT_REFERRALS_BASE (booking) use it too.
 */
export function patientRoute(activity: Activity) {
  return {
    config: { fhirApi: true, activity, patientFrom: { body: subjectOfBody } },
    preValidation: callerIsSubject,
  };
}

/** The signed-in patient's NHS Number; staff are sent to the published API (403 NO_ACCESS). */
export function signedInPatient(req: FastifyRequest): string {
  const p = req.ctx.principal;
  if (p?.kind !== 'patient' || !p.nhsNumber)
    throw ersError(
      403,
      'forbidden',
      'NO_ACCESS',
      'These routes serve patients signed in with NHS login; professionals use /referrals/FHIR/STU3',
    );
  return p.nhsNumber;
}

export function patientRoutes({
  store,
  audit,
  publicUrl,
}: Pick<ServiceDeps, 'store' | 'audit' | 'publicUrl'>) {
  const service = new PatientReferralService(
    store,
    audit,
    (ubrn) => `${publicUrl}${REFERRALS_BASE}/ReferralRequest/${ubrn}`,
  );
  return async function plugin(app: FastifyInstance): Promise<void> {
    useErsErrors(app);

    app.get('/ReferralRequest', patientRoute('ers.referral.read'), async (req, reply) =>
      reply.type(FHIR_JSON).send(await service.list(req.ctx, signedInPatient(req))),
    );

    app.get<{ Params: UbrnParams }>(
      '/ReferralRequest/:ubrn',
      {
        schema: { params: pathParams('ubrn') },
        ...patientRoute('ers.referral.read'),
      },
      async (req, reply) => {
        const stored = await service.read(
          req.ctx,
          signedInPatient(req),
          parseUbrn(req.params.ubrn),
        );
        return sendReferral(reply, stored);
      },
    );

    app.post<{ Params: UbrnParams }>(
      '/ReferralRequest/:ubrn/$ers.cancelReferral',
      {
        schema: { params: pathParams('ubrn') },
        ...patientRoute('ers.referral.cancel'),
      },
      async (req, reply) => {
        const nhs = signedInPatient(req);
        const saved = await service.cancel(req.ctx, nhs, parseUbrn(req.params.ubrn), req.body);
        return reply
          .code(200)
          .type(FHIR_JSON)
          .header('etag', etagFor(saved.version))
          .send(cancelledView(saved));
      },
    );
  };
}
