import type { FastifyInstance, FastifyReply } from 'fastify';
import { etagFor } from '../../fhir/etag.js';
import { FHIR_JSON } from '../../fhir/media-types.js';
import type { StoredResource } from '../../store/resource-store.js';
import { described, pathParams, queryParams } from '../route-schemas.js';
import {
  ERS_HEADERS,
  OBO_HEADER,
  IF_MATCH_HEADER,
  ersCaller,
  sendReferral,
} from './ers-route-kit.js';
import type { ServiceDeps } from '../service-deps.js';
import { APPOINTMENT_ID_PATTERN, type Appointment } from './appointment-model.js';
import { AppointmentChanges } from './appointment-changes.js';
import { parseSlotQuery, SLOT_QUERY_PARAMS } from './booking-rules.js';
import { BookingService } from './booking-service.js';
import { appointmentView, slotBundle } from './booking-views.js';
import { ersError, useErsErrors } from './ers-errors.js';
import { parseErsIfMatch, parseUbrn, parseVersion } from './referral-rules.js';
import { REFERRALS_BASE } from './routes.js';

interface IdParams {
  id: string;
}
interface VersionParams extends IdParams {
  version: string;
}
interface UbrnParams {
  ubrn: string;
}

function appointmentId(id: string): string {
  if (!APPOINTMENT_ID_PATTERN.test(id))
    throw ersError(400, 'value', 'INVALID_VALUE', `'${id.slice(0, 20)}' is not an appointment id`);
  return id;
}

function sendAppointment(reply: FastifyReply, stored: StoredResource<Appointment>, status = 200) {
  return reply
    .code(status)
    .type(FHIR_JSON)
    .header('etag', etagFor(stored.version))
    .send(appointmentView(stored));
}

/**
 * Booking's route table (docs/referrals.md, Booking): a015 Slot search, a016 book or defer, a038
 * Appointment/{id} (and _history/{version}), a034 PUT Appointment/{id}, a022
 * $ers.cancelAppointmentActionLater. Each reads the published headers and makes one call into the
 * use cases; refusals in eRS's STU3 OperationOutcome.
 */
export function bookingRoutes({
  publicUrl,
  store,
  audit,
}: Pick<ServiceDeps, 'publicUrl' | 'store' | 'audit'>) {
  const baseUrl = publicUrl + REFERRALS_BASE;
  const booking = new BookingService(store, audit);
  const changes = new AppointmentChanges(store, audit);

  return async function plugin(app: FastifyInstance): Promise<void> {
    useErsErrors(app);
    const slotRead = { fhirApi: true, activity: 'ers.slot.read' } as const;
    const book = { fhirApi: true, activity: 'ers.appointment.book' } as const;
    const read = { fhirApi: true, activity: 'ers.appointment.read' } as const;
    const review = { fhirApi: true, activity: 'ers.referral.review' } as const;

    app.get(
      '/Slot',
      {
        schema: {
          querystring: queryParams(SLOT_QUERY_PARAMS),
          headers: described({
            ...ERS_HEADERS,
            'nhsd-ers-comm-rule-org': "the referral's commissioning rule organisation (ODS code)",
          }),
        },
        config: slotRead,
      },
      async (req, reply) => {
        ersCaller(req, slotRead.activity, false);
        const q = parseSlotQuery(
          req.query as Record<string, unknown>,
          req.headers['nhsd-ers-comm-rule-org'],
        );
        const { slots, total } = await booking.searchSlots(q);
        return reply
          .code(200)
          .type(FHIR_JSON)
          .send(slotBundle(baseUrl, q, slots, total));
      },
    );

    app.post(
      '/Appointment',
      { schema: { headers: described(ERS_HEADERS) }, config: book },
      async (req, reply) => {
        const { appointment } = await booking.bookOrDefer(
          req.ctx,
          ersCaller(req, book.activity, false),
          req.body,
        );
        return sendAppointment(reply, appointment, 201);
      },
    );

    app.get<{ Params: IdParams }>(
      '/Appointment/:id',
      {
        schema: { params: pathParams('id'), headers: described({ ...ERS_HEADERS, ...OBO_HEADER }) },
        config: read,
      },
      async (req, reply) => {
        const who = ersCaller(req, read.activity, true);
        return sendAppointment(
          reply,
          await booking.readAppointment(req.ctx, who, appointmentId(req.params.id)),
        );
      },
    );

    app.get<{ Params: VersionParams }>(
      '/Appointment/:id/_history/:version',
      {
        schema: {
          params: pathParams('id', 'version'),
          headers: described({ ...ERS_HEADERS, ...OBO_HEADER }),
        },
        config: read,
      },
      async (req, reply) => {
        const who = ersCaller(req, read.activity, true);
        const id = appointmentId(req.params.id);
        const version = parseVersion(req.params.version);
        return sendAppointment(reply, await booking.readAppointment(req.ctx, who, id, version));
      },
    );

    app.put<{ Params: IdParams }>(
      '/Appointment/:id',
      {
        schema: {
          params: pathParams('id'),
          headers: described({ ...ERS_HEADERS, ...IF_MATCH_HEADER }),
        },
        config: book,
      },
      async (req, reply) => {
        const who = ersCaller(req, book.activity, false);
        const id = appointmentId(req.params.id);
        const version = parseErsIfMatch(req.headers['if-match']);
        const { appointment } = await changes.update(req.ctx, who, id, version, req.body);
        return sendAppointment(reply, appointment);
      },
    );

    app.post<{ Params: UbrnParams }>(
      '/ReferralRequest/:ubrn/$ers.cancelAppointmentActionLater',
      {
        schema: {
          params: pathParams('ubrn'),
          headers: described({ ...ERS_HEADERS, ...OBO_HEADER, ...IF_MATCH_HEADER }),
        },
        config: review,
      },
      async (req, reply) => {
        const who = ersCaller(req, review.activity, true);
        const ubrn = parseUbrn(req.params.ubrn);
        const version = parseErsIfMatch(req.headers['if-match']);
        const saved = await changes.actionLater(req.ctx, who, ubrn, version, req.body);
        return sendReferral(reply, saved);
      },
    );
  };
}
