/**
 * Booking and cancelling a referral's appointment as staff: the free slots of the shortlisted
 * services (a015) as a radio list, a page to check the choice, the booking (a016, at the referral
 * version the person saw), and cancelling a booked appointment (a034). A slot taken by someone
 * else meanwhile, or a referral changed meanwhile, is said plainly and the slots are offered again.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { API } from './api-paths.js';
import {
  APPOINTMENT_CANCELLATION_REASONS,
  APPOINTMENT_CANCELLATION_SYSTEM,
  ersRefusal,
  formatUbrn,
  FUNCTION_TEXT,
  parseSlotChoice,
  slotsOf,
  slotTime,
  type ReferralSummary,
  type SlotChoice,
} from './referral-data.js';
import {
  ersStaff,
  functionQuery,
  readAppointment,
  readReferral,
  referralBanner,
  STAFF,
  UBRN_PARAMS,
  type ErsStaff,
} from './referral-staff.js';
import { WEB_BASE } from './paths.js';
import { ApiError } from './platform-client.js';
import type { WebContext } from './web-context.js';
import { formField, redirectTo, renderPage } from './web-page.js';

type UbrnReq = FastifyRequest<{ Params: { ubrn: string } }>;
const SLOTS_PER_SERVICE = 20;

/** The free slots of each shortlisted service the user may book into (a015). */
async function freeSlots(staff: ErsStaff, summary: ReferralSummary) {
  const choices: SlotChoice[] = [];
  const unavailable: string[] = [];
  for (const service of summary.shortlist) {
    const q = new URLSearchParams({
      'schedule.actor:HealthcareService': service.id,
      appointmentType: summary.priority ?? 'ROUTINE',
      status: 'free',
      _count: String(SLOTS_PER_SERVICE),
      page: '1',
      _include: 'Slot:schedule',
    });
    const res = await staff.tools.call({
      url: `${API.referrals}/Slot?${q}`,
      headers: {
        ...staff.headers,
        'nhsd-ers-comm-rule-org': summary.commissioningOrg ?? staff.tools.user.org,
      },
    });
    if (res.status === 200) choices.push(...slotsOf(res.body, service));
    else unavailable.push(service.name);
  }
  choices.sort((a, b) => a.start.localeCompare(b.start));
  return { choices, unavailable };
}

/** The slot choice page, with an error when there is one to show. */
async function chooseSlot(
  req: UbrnReq,
  reply: FastifyReply,
  staff: ErsStaff,
  error?: { status: number; text: string },
) {
  const { summary } = await readReferral(staff, req.params.ubrn);
  const [{ choices, unavailable }, banner] = await Promise.all([
    freeSlots(staff, summary),
    referralBanner(staff.tools, summary.nhsNumber),
  ]);
  const first = choices[0] ? 'slot' : 'no-slots';
  return renderPage(req, reply, error?.status ?? 200, 'pages/referrals/book.njk', {
    title: 'Choose an appointment',
    patient: banner,
    referral: summary,
    ubrnText: formatUbrn(summary.ubrn),
    fn: staff.fn,
    fnQuery: functionQuery(staff.fn),
    slotItems: choices.map((c) => ({
      value: c.value,
      text: slotText(c),
      hint: { text: c.service.name + (c.clinician ? ` (named clinician ${c.clinician})` : '') },
    })),
    unavailable,
    ...(error
      ? {
          errorList: [{ text: error.text, href: `#${first}` }],
          slotError: { text: error.text },
        }
      : {}),
  });
}

const slotText = (c: SlotChoice) =>
  `${slotTime(c.start)} to ${new Date(c.end).toISOString().slice(11, 16)}`;

export function referralBookingPages(ctx: WebContext) {
  return async function plugin(web: FastifyInstance): Promise<void> {
    const opts = { schema: UBRN_PARAMS, config: STAFF };

    web.get<{ Params: { ubrn: string } }>('/referrals/:ubrn/book', opts, async (req, reply) =>
      chooseSlot(req, reply, ersStaff(ctx, req, 'ers.appointment.book')),
    );

    // the choice made: check it before booking
    web.post<{ Params: { ubrn: string } }>('/referrals/:ubrn/book', opts, async (req, reply) => {
      const staff = ersStaff(ctx, req, 'ers.appointment.book', formField(req, 'function'));
      const chosen = parseSlotChoice(formField(req, 'slot'));
      if (!chosen)
        return chooseSlot(req, reply, staff, { status: 400, text: 'Choose an appointment' });
      const { summary } = await readReferral(staff, req.params.ubrn);
      const { choices } = await freeSlots(staff, summary);
      const slot = choices.find((c) => c.value === `${chosen.service}|${chosen.slot}`);
      if (!slot)
        return chooseSlot(req, reply, staff, {
          status: 409,
          text: 'The appointment you chose has just been taken. Choose another appointment.',
        });
      return renderPage(req, reply, 200, 'pages/referrals/confirm.njk', {
        title: 'Check the appointment before you book it',
        patient: await referralBanner(staff.tools, summary.nhsNumber),
        referral: summary,
        slot,
        slotText: slotText(slot),
        fn: staff.fn,
        fnQuery: functionQuery(staff.fn),
      });
    });

    web.post<{ Params: { ubrn: string } }>(
      '/referrals/:ubrn/book/confirm',
      opts,
      async (req, reply) => {
        const staff = ersStaff(ctx, req, 'ers.appointment.book', formField(req, 'function'));
        const chosen = parseSlotChoice(formField(req, 'slot'));
        const version = Number(formField(req, 'version'));
        const nhs = formField(req, 'nhsNumber') ?? '';
        const clinician = formField(req, 'clinician');
        if (!chosen || !Number.isInteger(version) || !/^[0-9]{10}$/.test(nhs))
          return chooseSlot(req, reply, staff, { status: 400, text: 'Choose an appointment' });
        const res = await staff.tools.call({
          method: 'POST',
          url: `${API.referrals}/Appointment`,
          headers: staff.headers,
          body: bookingBody(req.params.ubrn, version, nhs, chosen, clinician),
        });
        if (res.status === 201)
          return redirectTo(reply, `${refUrl(req.params.ubrn, staff)}&done=booked`);
        const { code } = ersRefusal(res.body);
        if (code === 'SLOT_NOT_AVAILABLE')
          return chooseSlot(req, reply, staff, {
            status: 409,
            text: 'Someone else booked the appointment you chose while you were deciding. Choose another appointment.',
          });
        if (code === 'VERSION_MISMATCH')
          return chooseSlot(req, reply, staff, {
            status: 409,
            text: 'The referral was changed by someone else while you were choosing. Check it and choose again.',
          });
        throw new ApiError(res);
      },
    );

    web.get<{ Params: { ubrn: string } }>(
      '/referrals/:ubrn/cancel-appointment',
      opts,
      async (req, reply) => cancelForm(req, reply, ersStaff(ctx, req, 'ers.appointment.book'), 200),
    );

    web.post<{ Params: { ubrn: string } }>(
      '/referrals/:ubrn/cancel-appointment',
      opts,
      async (req, reply) => {
        const staff = ersStaff(ctx, req, 'ers.appointment.book', formField(req, 'function'));
        const reason = APPOINTMENT_CANCELLATION_REASONS.find(
          (r) => r.code === formField(req, 'reason'),
        );
        const comment = formField(req, 'comment');
        if (!reason) return cancelForm(req, reply, staff, 400, { reason: 'Choose a reason' });
        if (reason.comment && !comment)
          return cancelForm(req, reply, staff, 400, {
            comment: 'Say why the appointment is cancelled',
          });
        if (comment && comment.length > 2000)
          return cancelForm(req, reply, staff, 400, { comment: 'Use 2000 characters or fewer' });
        const { summary } = await readReferral(staff, req.params.ubrn);
        const appointment = await readAppointment(staff, summary);
        if (!appointment || appointment.status !== 'booked')
          return redirectTo(reply, refUrl(req.params.ubrn, staff));
        const {
          meta: _meta,
          slot: _slot,
          start: _s,
          end: _e,
          created: _c,
          ...rest
        } = appointment.body;
        const res = await staff.tools.call({
          method: 'PUT',
          url: `${API.referrals}/Appointment/${appointment.id}`,
          headers: { ...staff.headers, 'if-match': `W/"${appointment.version}"` },
          body: {
            ...rest,
            status: 'cancelled',
            reason: [{ coding: [{ system: APPOINTMENT_CANCELLATION_SYSTEM, code: reason.code }] }],
            ...(comment ? { comment } : {}),
          },
        });
        if (res.status === 200)
          return redirectTo(reply, `${refUrl(req.params.ubrn, staff)}&done=appointment-cancelled`);
        throw new ApiError(res);
      },
    );
  };
}

const refUrl = (ubrn: string, staff: ErsStaff) =>
  `${WEB_BASE}/referrals/${ubrn}?${functionQuery(staff.fn)}`;

function bookingBody(
  ubrn: string,
  version: number,
  nhs: string,
  chosen: { service: string; slot: string },
  clinician?: string,
) {
  return {
    resourceType: 'Appointment',
    language: 'en',
    status: 'booked',
    description: 'e-Referral Appointment',
    slot: [{ reference: `Slot/${chosen.slot}` }],
    incomingReferral: [{ reference: `ReferralRequest/${ubrn}/_history/${version}` }],
    participant: [
      {
        actor: {
          identifier: { system: 'http://fhir.nhs.net/Id/ers-service', value: chosen.service },
        },
        status: 'accepted',
      },
      {
        actor: { identifier: { system: 'http://fhir.nhs.net/Id/nhs-number', value: nhs } },
        status: 'accepted',
      },
      ...(clinician && /^[0-9]{1,20}$/.test(clinician)
        ? [
            {
              type: [
                {
                  coding: [
                    {
                      system: 'http://hl7.org/fhir/ValueSet/encounter-participant-type',
                      code: 'CON',
                    },
                  ],
                },
              ],
              actor: {
                identifier: { system: 'http://fhir.nhs.net/Id/sds-user-id', value: clinician },
              },
              status: 'accepted',
            },
          ]
        : []),
    ],
  };
}

async function cancelForm(
  req: UbrnReq,
  reply: FastifyReply,
  staff: ErsStaff,
  status: number,
  errors: { reason?: string; comment?: string } = {},
) {
  const { summary } = await readReferral(staff, req.params.ubrn);
  const [appointment, banner] = await Promise.all([
    readAppointment(staff, summary),
    referralBanner(staff.tools, summary.nhsNumber),
  ]);
  const chosen = formField(req, 'reason');
  return renderPage(req, reply, status, 'pages/referrals/cancel-appointment.njk', {
    title: 'Cancel the appointment',
    patient: banner,
    referral: summary,
    appointment,
    appointmentText: appointment?.start ? slotTime(appointment.start) : undefined,
    fn: staff.fn,
    fnText: FUNCTION_TEXT[staff.fn] ?? staff.fn,
    fnQuery: functionQuery(staff.fn),
    reasonItems: APPOINTMENT_CANCELLATION_REASONS.map((r) => ({
      value: r.code,
      text: r.text,
      checked: r.code === chosen,
      ...(r.comment ? { hint: { text: 'You need to say why' } } : {}),
    })),
    comment: formField(req, 'comment') ?? '',
    reasonError: errors.reason ? { text: errors.reason } : undefined,
    commentError: errors.comment ? { text: errors.comment } : undefined,
    errorList: [
      ...(errors.reason ? [{ text: errors.reason, href: '#reason' }] : []),
      ...(errors.comment ? [{ text: errors.comment, href: '#comment' }] : []),
    ],
  });
}
