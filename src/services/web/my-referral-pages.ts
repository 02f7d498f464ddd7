/**
 * "My referrals" for patients: they enter the UBRN and password of their referral letter (a POST
 * form; the patient routes check the password, $ers.checkPassword), then see the referral, its
 * appointment and the free appointments of its shortlisted services, and book, change or cancel
 * the appointment. Every action needs the password again (the API asks for it each time), so the
 * UBRN and password travel only in the bodies of the forms of that page (re-posted as hidden
 * fields), never in a URL. After a change the page redirects to /me/referrals/<ubrn>, which reads
 * the referral with the patient's own token alone (the patient routes' rule for reading) and asks
 * for the password again before anything else is changed.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { API } from './api-paths.js';
import {
  APPOINTMENT_CANCELLATION_SYSTEM,
  ersRefusal,
  formatUbrn,
  normaliseUbrn,
  parseSlotChoice,
  slotsOf,
  slotTime,
  summariseAppointment,
  summariseReferral,
  type ReferralSummary,
} from './referral-data.js';
import { UBRN_PARAMS } from './referral-staff.js';
import { WEB_BASE } from './paths.js';
import { ApiError } from './platform-client.js';
import type { WebContext } from './web-context.js';
import { formField, pageTools, redirectTo, renderPage, type PageTools } from './web-page.js';

const PATIENT = { public: true, webAudience: 'patient' } as const;
const BASE = API.patientReferrals;
const REASONS = [
  { code: 'PATIENT_ILL', text: 'I am ill', comment: false },
  { code: 'PATIENT_HOLIDAY', text: 'I am on holiday', comment: false },
  {
    code: 'PATIENT_OTHER_ENGAGEMENT',
    text: 'I have something else on at that time',
    comment: true,
  },
  { code: 'PATIENT_APPOINTMENT_CANCELLATION_OTHER', text: 'Another reason', comment: true },
];
const DONE: Record<string, string> = {
  booked: 'Your appointment is booked',
  changed: 'Your appointment has been changed',
  cancelled: 'Your appointment has been cancelled',
};

interface Access {
  ubrn: string;
  password: string;
}
type FieldErrors = { ubrn?: string; password?: string };

const params = (...p: object[]) => ({ resourceType: 'Parameters', parameter: p });
const slotParam = (slot: string) => ({
  name: 'slot',
  valueReference: { reference: `Slot/${slot}` },
});

/** The entry form (UBRN and password), with what was wrong when there was something. */
function startPage(
  req: FastifyRequest,
  reply: FastifyReply,
  status: number,
  errors: FieldErrors = {},
  notice?: string,
) {
  return renderPage(req, reply, status, 'pages/me/referrals/start.njk', {
    title: 'My referrals',
    ubrn: formField(req, 'ubrn') ?? '',
    notice,
    ubrnError: errors.ubrn ? { text: errors.ubrn } : undefined,
    passwordError: errors.password ? { text: errors.password } : undefined,
    errorList: [
      ...(errors.ubrn ? [{ text: errors.ubrn, href: '#ubrn' }] : []),
      ...(errors.password ? [{ text: errors.password, href: '#password' }] : []),
    ],
  });
}

/** A refusal of the UBRN and password, as the patient is told it; undefined when it is not one. */
function accessRefusal(status: number, body: any): { errors: FieldErrors; notice?: string } | null {
  const { code, text } = ersRefusal(body);
  if (status === 423)
    return {
      errors: {},
      notice:
        'This referral is locked because the wrong password was entered too many times. Ask your GP surgery for a new referral letter.',
    };
  if (code === 'NO_ACCESS_CODE')
    return {
      errors: {},
      notice:
        'No password has been issued for this referral yet. Ask your GP surgery for your referral letter.',
    };
  if (status === 403 && /password does not match/.test(text)) {
    const left = /(\d+) attempt/.exec(text)?.[1];
    return {
      errors: {
        password: `The password is not right for this referral.${left ? ` You have ${left} more ${left === '1' ? 'try' : 'tries'} before the referral is locked.` : ''} Check the password on your letter.`,
      },
    };
  }
  if (status === 422 && code === 'INVALID_VALUE')
    return { errors: { password: 'Enter the password exactly as it is printed on your letter' } };
  if (status === 404 || status === 403 || (status === 400 && code === 'INVALID_VALUE'))
    return {
      errors: {
        ubrn: 'We could not find a referral of yours with this booking reference number. Check the number on your letter.',
      },
    };
  return null;
}

/** What the referral page shows: the referral, its appointment, and the appointments on offer. */
async function referralView(tools: PageTools, summary: ReferralSummary) {
  const url = `${BASE}/ReferralRequest/${summary.ubrn}`;
  const appointmentRes = summary.appointmentId
    ? await tools.call({ url: `${url}/Appointment` })
    : undefined;
  const appointment =
    appointmentRes?.status === 200 ? summariseAppointment(appointmentRes.body) : undefined;
  const booked = summary.state === 'BOOKED' && appointment?.status === 'booked';
  // free slots: every shortlisted service to book; the booked service to change
  const services = booked
    ? summary.shortlist.filter((s) => s.id === appointment?.service?.id)
    : summary.state === 'NOT_BOOKED'
      ? summary.shortlist
      : [];
  const slots = [];
  for (const service of services) {
    const res = await tools.call({
      url: `${url}/Slot?service=${encodeURIComponent(service.id)}&_count=20`,
    });
    if (res.status === 200) slots.push(...slotsOf(res.body, service));
  }
  slots.sort((a, b) => a.start.localeCompare(b.start));
  return { appointment, booked, slots };
}

export function myReferralPages(ctx: WebContext) {
  return async function plugin(web: FastifyInstance): Promise<void> {
    web.get('/me/referrals', { config: PATIENT }, async (req, reply) => startPage(req, reply, 200));

    /** The referral page for a patient who has given the right UBRN and password. */
    async function verifiedPage(
      req: FastifyRequest,
      reply: FastifyReply,
      access: Access,
      error?: { status: number; field: string; text: string },
    ) {
      const tools = pageTools(ctx.client, req);
      const res = await tools.call({
        method: 'POST',
        url: `${BASE}/ReferralRequest/${access.ubrn}/$ers.checkPassword`,
        body: params({ name: 'password', valueString: access.password }),
      });
      if (res.status !== 200) {
        const refusal = accessRefusal(res.status, res.body);
        if (!refusal) throw new ApiError(res);
        return startPage(
          req,
          reply,
          res.status === 423 ? 423 : 400,
          refusal.errors,
          refusal.notice,
        );
      }
      const summary = summariseReferral(res.body);
      const view = await referralView(tools, summary);
      return renderPage(req, reply, error?.status ?? 200, 'pages/me/referrals/referral.njk', {
        title: `Your referral ${formatUbrn(summary.ubrn)}`,
        verified: true,
        access,
        referral: summary,
        ...view,
        slotItems: view.slots
          .filter((s) => s.slotId !== view.appointment?.slotId)
          .map((s) => ({
            value: s.value,
            text: slotTime(s.start),
            hint: { text: s.service.name },
          })),
        reasonItems: REASONS.map((r) => ({
          value: r.code,
          text: r.text,
          ...(r.comment ? { hint: { text: 'Tell us why in the box below' } } : {}),
        })),
        ...(error
          ? {
              errorList: [{ text: error.text, href: `#${error.field}` }],
              fieldError: { [error.field]: { text: error.text } },
            }
          : {}),
      });
    }

    web.post('/me/referrals', { config: PATIENT }, async (req, reply) => {
      const ubrn = normaliseUbrn(formField(req, 'ubrn'));
      const password = formField(req, 'password');
      const errors: FieldErrors = {};
      if (!ubrn)
        errors.ubrn = formField(req, 'ubrn')
          ? 'The booking reference number must be 12 digits, as on your letter'
          : 'Enter the booking reference number from your letter';
      if (!password) errors.password = 'Enter the password from your letter';
      if (!ubrn || !password) return startPage(req, reply, 400, errors);
      return verifiedPage(req, reply, { ubrn, password });
    });

    web.get<{ Params: { ubrn: string } }>(
      '/me/referrals/:ubrn',
      { schema: UBRN_PARAMS, config: PATIENT },
      async (req, reply) => {
        const tools = pageTools(ctx.client, req);
        const res = await tools.call({ url: `${BASE}/ReferralRequest/${req.params.ubrn}` });
        if (res.status !== 200) {
          const refusal = accessRefusal(res.status, res.body);
          if (!refusal) throw new ApiError(res);
          return startPage(req, reply, 404, refusal.errors, refusal.notice);
        }
        const summary = summariseReferral(res.body);
        const view = await referralView(tools, summary);
        const done = (req.query as Record<string, string | undefined>).done ?? '';
        return renderPage(req, reply, 200, 'pages/me/referrals/referral.njk', {
          title: `Your referral ${formatUbrn(summary.ubrn)}`,
          verified: false,
          referral: summary,
          appointment: view.appointment,
          booked: view.booked,
          done: DONE[done],
        });
      },
    );

    /** One action with the UBRN and password: on success to the referral page, else said why. */
    async function act(
      req: FastifyRequest,
      reply: FastifyReply,
      operation: string,
      body: (access: Access) => object | { error: { field: string; text: string } },
      done: string,
    ) {
      const ubrn = normaliseUbrn(formField(req, 'ubrn'));
      const password = formField(req, 'password');
      if (!ubrn || !password)
        return startPage(req, reply, 400, {
          ...(ubrn ? {} : { ubrn: 'Enter the booking reference number from your letter' }),
          password: 'Enter the password from your letter',
        });
      const access = { ubrn, password };
      const request = body(access);
      if ('error' in request)
        return verifiedPage(req, reply, access, { status: 400, ...request.error });
      const tools = pageTools(ctx.client, req);
      const res = await tools.call({
        method: 'POST',
        url: `${BASE}/ReferralRequest/${ubrn}/$ers.${operation}`,
        body: request,
      });
      if (res.status === 200 || res.status === 201)
        return redirectTo(reply, `${WEB_BASE}/me/referrals/${ubrn}?done=${done}`);
      const { code } = ersRefusal(res.body);
      if (code === 'SLOT_NOT_AVAILABLE')
        return verifiedPage(req, reply, access, {
          status: 409,
          field: 'slot',
          text: 'Someone else booked that appointment while you were choosing. Choose another appointment.',
        });
      const refusal = accessRefusal(res.status, res.body);
      if (refusal)
        return startPage(
          req,
          reply,
          res.status === 423 ? 423 : 400,
          refusal.errors,
          refusal.notice,
        );
      throw new ApiError(res);
    }

    const chooseSlot = { field: 'slot', text: 'Choose an appointment' };

    web.post('/me/referrals/book', { config: PATIENT }, async (req, reply) =>
      act(
        req,
        reply,
        'bookAppointment',
        ({ password }) => {
          const chosen = parseSlotChoice(formField(req, 'slot'));
          if (!chosen) return { error: chooseSlot };
          return params(
            { name: 'password', valueString: password },
            { name: 'service', valueString: chosen.service },
            slotParam(chosen.slot),
          );
        },
        'booked',
      ),
    );

    web.post('/me/referrals/change', { config: PATIENT }, async (req, reply) =>
      act(
        req,
        reply,
        'changeAppointment',
        ({ password }) => {
          const chosen = parseSlotChoice(formField(req, 'slot'));
          if (!chosen) return { error: chooseSlot };
          return params({ name: 'password', valueString: password }, slotParam(chosen.slot));
        },
        'changed',
      ),
    );

    web.post('/me/referrals/cancel-appointment', { config: PATIENT }, async (req, reply) =>
      act(
        req,
        reply,
        'cancelAppointment',
        ({ password }) => {
          const reason = REASONS.find((r) => r.code === formField(req, 'reason'));
          const comments = formField(req, 'comments');
          if (!reason) return { error: { field: 'reason', text: 'Choose why you are cancelling' } };
          if (reason.comment && !comments)
            return { error: { field: 'comments', text: 'Tell us why you are cancelling' } };
          if (comments && comments.length > 2000)
            return { error: { field: 'comments', text: 'Use 2000 characters or fewer' } };
          return params(
            { name: 'password', valueString: password },
            {
              name: 'reason',
              valueCoding: { system: APPOINTMENT_CANCELLATION_SYSTEM, code: reason.code },
            },
            ...(comments ? [{ name: 'comments', valueString: comments }] : []),
          );
        },
        'cancelled',
      ),
    );
  };
}
