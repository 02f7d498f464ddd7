/**
 * Two more of OpenSpine's patient routes under PATIENT_REFERRALS_BASE (docs/referrals.md, "Letters,
 * attachments and the patient"), for a patient managing their referral in an application such as
 * the web application's "My referrals":
 *
 * - `POST /ReferralRequest/{ubrn}/$ers.checkPassword` {`password`}: the UBRN and password of the
 *   letter checked as every patient action checks them (`verifyPatientAccess`: wrong passwords
 *   counted and audited, the fifth locks), changing nothing else; a right password clears the count
 *   and answers the referral, so an application can say at once that the password is wrong instead
 *   of only when the patient books.
 * - `GET /ReferralRequest/{ubrn}/Appointment`: the referral's current appointment (as a038 answers
 *   it), for the patient whose referral it is; reading changes nothing, so no password (as the
 *   patient's referral read and slot search). 404 REC_NOT_FOUND when the referral has none.
 */
import type { FastifyInstance } from 'fastify';
import { auditRecord } from '../../audit/audit-record.js';
import { etagFor } from '../../fhir/etag.js';
import { FHIR_JSON } from '../../fhir/media-types.js';
import { VersionConflictError } from '../../store/errors.js';
import { pathParams } from '../route-schemas.js';
import type { ServiceDeps } from '../service-deps.js';
import { APPOINTMENT, appointmentIdOf } from './appointment-model.js';
import { appointmentView } from './booking-views.js';
import { sendReferral } from './ers-route-kit.js';
import { ersError, useErsErrors } from './ers-errors.js';
import { verifyPatientAccess } from './patient-access.js';
import { patientRoute, signedInPatient } from './patient-routes.js';
import { patientParameters, patientPassword } from './patient-rules.js';
import { visibleReferral } from './referral-access.js';
import { parseUbrn } from './referral-rules.js';

interface UbrnParams {
  ubrn: string;
}

export function patientAccessRoutes({ store, audit }: Pick<ServiceDeps, 'store' | 'audit'>) {
  const deps = { store, audit };
  const withUbrn = { schema: { params: pathParams('ubrn') } };

  return async function plugin(app: FastifyInstance): Promise<void> {
    useErsErrors(app);

    app.post<{ Params: UbrnParams }>(
      '/ReferralRequest/:ubrn/$ers.checkPassword',
      { ...withUbrn, ...patientRoute('ers.referral.read') },
      async (req, reply) => {
        const nhsNumber = signedInPatient(req);
        const ubrn = parseUbrn(req.params.ubrn);
        const password = patientPassword(patientParameters(req.body, ['password']));
        const action = 'ers.referral.checkPassword';
        const { referral, resetFailures } = await verifyPatientAccess(
          deps,
          req.ctx,
          { nhsNumber, ubrn, password },
          action,
        );
        const record = auditRecord(req.ctx, action, nhsNumber, 'success', {
          ubrn,
          version: referral.version,
        });
        try {
          await store.commit({ resources: resetFailures, audit: [record] });
        } catch (err) {
          // another attempt changed the count first: the password was right all the same
          if (!(err instanceof VersionConflictError)) throw err;
          await audit.append(record);
        }
        return sendReferral(reply, referral);
      },
    );

    app.get<{ Params: UbrnParams }>(
      '/ReferralRequest/:ubrn/Appointment',
      { ...withUbrn, ...patientRoute('ers.appointment.read') },
      async (req, reply) => {
        const nhsNumber = signedInPatient(req);
        const ubrn = parseUbrn(req.params.ubrn);
        const referral = await visibleReferral(
          deps,
          req.ctx,
          { patient: nhsNumber },
          ubrn,
          'ers.appointment.read',
          ['patient'],
        );
        const id = appointmentIdOf(referral.resource);
        const stored = id ? await store.read(APPOINTMENT, id) : null;
        if (!id || !stored)
          throw ersError(404, 'not-found', 'REC_NOT_FOUND', `Referral ${ubrn} has no appointment`);
        await audit.append(
          auditRecord(req.ctx, 'ers.appointment.read', nhsNumber, 'success', {
            ubrn,
            appointment: id,
            version: stored.version,
            by: 'patient',
          }),
        );
        return reply
          .code(200)
          .type(FHIR_JSON)
          .header('etag', etagFor(stored.version))
          .send(appointmentView(stored));
      },
    );
  };
}
