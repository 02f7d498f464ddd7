import type { FastifyInstance, FastifyReply } from 'fastify';
import { etagFor } from '../../fhir/etag.js';
import { FHIR_JSON } from '../../fhir/media-types.js';
import type { StoredResource } from '../../store/resource-store.js';
import { pathParams, queryParams } from '../route-schemas.js';
import type { ServiceDeps } from '../service-deps.js';
import { AppointmentChanges } from './appointment-changes.js';
import type { Appointment } from './appointment-model.js';
import { BookingService } from './booking-service.js';
import { appointmentView, slotBundle } from './booking-views.js';
import { useErsErrors } from './ers-errors.js';
import { parsePatientSlotQuery } from './patient-booking-rules.js';
import { PATIENT_REFERRALS_BASE, patientRoute, signedInPatient } from './patient-routes.js';
import { patientSlots } from './patient-slots.js';
import { parseUbrn } from './referral-rules.js';
import { REFERRALS_BASE } from './routes.js';

interface UbrnParams {
  ubrn: string;
}

function sendAppointment(reply: FastifyReply, stored: StoredResource<Appointment>, status: number) {
  return reply
    .code(status)
    .type(FHIR_JSON)
    .header('etag', etagFor(stored.version))
    .send(appointmentView(stored));
}

/**
 * The patient's booking routes under PATIENT_REFERRALS_BASE (OpenSpine's own, docs/referrals.md):
 * a shortlisted service's free slots, and booking, changing and cancelling the appointment with the
 * password of the referral letter. Each answers the Appointment as a016 and a034 do.
 */
export function patientBookingRoutes({
  store,
  audit,
  publicUrl,
}: Pick<ServiceDeps, 'store' | 'audit' | 'publicUrl'>) {
  const booking = new BookingService(store, audit);
  const changes = new AppointmentChanges(store, audit);
  const patientBase = `${publicUrl}${PATIENT_REFERRALS_BASE}/ReferralRequest`;
  const withUbrn = { schema: { params: pathParams('ubrn') } };

  return async function plugin(app: FastifyInstance): Promise<void> {
    useErsErrors(app);

    app.get<{ Params: UbrnParams }>(
      '/ReferralRequest/:ubrn/Slot',
      {
        schema: {
          params: pathParams('ubrn'),
          querystring: queryParams(['service', 'page', '_count']),
        },
        ...patientRoute('ers.slot.read'),
      },
      async (req, reply) => {
        const nhs = signedInPatient(req);
        const ubrn = parseUbrn(req.params.ubrn);
        const q = parsePatientSlotQuery(req.query as Record<string, unknown>);
        const { slots, total } = await patientSlots(booking, req.ctx, nhs, ubrn, q);
        const e = encodeURIComponent;
        const linkTo = (page: number) =>
          `${patientBase}/${ubrn}/Slot?service=${e(q.service)}&_count=${q.count}&page=${page}`;
        return reply
          .code(200)
          .type(FHIR_JSON)
          .send(slotBundle(publicUrl + REFERRALS_BASE, q, slots, total, linkTo));
      },
    );

    app.post<{ Params: UbrnParams }>(
      '/ReferralRequest/:ubrn/$ers.bookAppointment',
      { ...withUbrn, ...patientRoute('ers.appointment.book') },
      async (req, reply) => {
        const nhs = signedInPatient(req);
        const ubrn = parseUbrn(req.params.ubrn);
        const { appointment } = await booking.bookForPatient(req.ctx, nhs, ubrn, req.body);
        return sendAppointment(reply, appointment, 201);
      },
    );

    app.post<{ Params: UbrnParams }>(
      '/ReferralRequest/:ubrn/$ers.changeAppointment',
      { ...withUbrn, ...patientRoute('ers.appointment.book') },
      async (req, reply) => {
        const nhs = signedInPatient(req);
        const ubrn = parseUbrn(req.params.ubrn);
        const { appointment } = await changes.moveForPatient(req.ctx, nhs, ubrn, req.body);
        return sendAppointment(reply, appointment, 200);
      },
    );

    app.post<{ Params: UbrnParams }>(
      '/ReferralRequest/:ubrn/$ers.cancelAppointment',
      { ...withUbrn, ...patientRoute('ers.appointment.book') },
      async (req, reply) => {
        const nhs = signedInPatient(req);
        const ubrn = parseUbrn(req.params.ubrn);
        const { appointment } = await changes.cancelForPatient(req.ctx, nhs, ubrn, req.body);
        return sendAppointment(reply, appointment, 200);
      },
    );
  };
}
