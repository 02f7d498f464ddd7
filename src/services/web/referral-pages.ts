import type { FastifyInstance } from 'fastify';
import { API } from './api-paths.js';
import { ApiError } from './platform-client.js';
import { referralBookingPages } from './referral-booking-pages.js';
import {
  ersRefusal,
  formatUbrn,
  FUNCTION_TEXT,
  sideOf,
  summariseReferral,
  WORKLISTS,
  type ReferralSummary,
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
import type { WebContext } from './web-context.js';
import { renderPage } from './web-page.js';

const PAGE_SIZE = 25;
const LIST_SELECTOR = 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-ReferralListSelector-1';

/** e-RS worklists and referrals for staff: /referrals and /referrals/:ubrn (booking: its own module). */
export function referralPages(ctx: WebContext) {
  return async function plugin(web: FastifyInstance): Promise<void> {
    web.get('/referrals', { config: STAFF }, async (req, reply) => {
      const staff = ersStaff(ctx, req, 'ers.worklist.read');
      const q = req.query as Record<string, string | undefined>;
      if (!staff.fn)
        return renderPage(req, reply, 403, 'pages/referrals/worklist.njk', {
          title: 'Referrals',
          noFunction: true,
        });
      const lists = WORKLISTS[sideOf(staff.fn)];
      const list = lists.find((l) => l.code === q.list) ?? lists[0];
      const res = await staff.tools.call({
        method: 'POST',
        url: `${API.referrals}/ReferralRequest/$ers.fetchworklist`,
        headers: staff.headers,
        body: {
          resourceType: 'Parameters',
          parameter: [
            {
              name: 'listType',
              valueCodeableConcept: { coding: [{ system: LIST_SELECTOR, code: list.code }] },
            },
          ],
        },
      });
      // a function or list e-RS refuses this user: said on the page, the choice still there
      if (res.status !== 200 && res.status !== 403 && res.status !== 422) throw new ApiError(res);
      const refused = res.status === 200 ? undefined : ersRefusal(res.body).text;
      const items: any[] = Array.isArray(res.body?.entry) ? res.body.entry : [];
      const pages = Math.max(1, Math.ceil(items.length / PAGE_SIZE));
      const page = Math.min(pages, Math.max(1, Number.parseInt(q.page ?? '1', 10) || 1));
      const shown = items.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE);
      const rows = await Promise.all(shown.map((item) => worklistRow(staff, item)));
      const here = `${functionQuery(staff.fn)}&list=${list.code}`;
      return renderPage(req, reply, 200, 'pages/referrals/worklist.njk', {
        title: 'Referrals',
        refused,
        functionItems: staff.functions.map((f) => ({
          value: f,
          text: FUNCTION_TEXT[f] ?? f,
          selected: f === staff.fn,
        })),
        listItems: lists.map((l) => ({
          value: l.code,
          text: l.text,
          selected: l.code === list.code,
        })),
        list,
        fnText: FUNCTION_TEXT[staff.fn] ?? staff.fn,
        fn: staff.fn,
        rows,
        total: items.length,
        page,
        pages,
        previous: page > 1 ? `?${here}&page=${page - 1}` : undefined,
        next: page < pages ? `?${here}&page=${page + 1}` : undefined,
      });
    });

    web.get<{ Params: { ubrn: string } }>(
      '/referrals/:ubrn',
      { schema: UBRN_PARAMS, config: STAFF },
      async (req, reply) => {
        const staff = ersStaff(ctx, req, 'ers.referral.read');
        const { summary } = await readReferral(staff, req.params.ubrn);
        const [appointment, actions, banner] = await Promise.all([
          readAppointment(staff, summary),
          availableActions(staff, summary),
          referralBanner(staff.tools, summary.nhsNumber),
        ]);
        const done = (req.query as Record<string, string | undefined>).done;
        return renderPage(req, reply, 200, 'pages/referrals/referral.njk', {
          title: `Referral ${formatUbrn(summary.ubrn)}`,
          patient: banner,
          referral: summary,
          appointment,
          actions,
          fn: staff.fn,
          fnText: FUNCTION_TEXT[staff.fn] ?? staff.fn,
          fnQuery: functionQuery(staff.fn),
          canBook: actions.some((a) => a.code === 'CREATE_APPOINTMENT'),
          canCancelAppointment:
            !!appointment &&
            appointment.status === 'booked' &&
            actions.some((a) => a.code === 'CANCEL_DIRECTLY_BOOKED_APPOINTMENT'),
          done: ['booked', 'appointment-cancelled'].includes(done ?? '') ? done : undefined,
        });
      },
    );

    await web.register(referralBookingPages(ctx));
  };
}

/** One worklist row: the item and the referral it names, read with a005. */
async function worklistRow(staff: ErsStaff, item: any) {
  const ubrn = String(item?.item?.reference ?? '').replace(/^ReferralRequest\//, '');
  const parts: any[] = item?.extension?.[0]?.extension ?? [];
  const part = (url: string) => parts.find((p) => p.url === url);
  const res = await staff.tools.call({
    url: `${API.referrals}/ReferralRequest/${ubrn}`,
    headers: staff.headers,
  });
  const summary = res.status === 200 ? summariseReferral(res.body) : undefined;
  const service =
    part('service')?.valueReference?.display ??
    summary?.shortlist.map((s) => s.name).join(', ') ??
    '';
  return {
    ubrn,
    ubrnText: formatUbrn(ubrn),
    nhsNumber: summary?.nhsNumber ?? part('patient')?.valueReference?.identifier?.value ?? '',
    service,
    priority: summary?.priorityText ?? '',
    state: summary?.stateText ?? part('status')?.valueCodeableConcept?.coding?.[0]?.display ?? '',
    pathwayStart: summary?.pathwayStart ?? part('eReferralPathwayStart')?.valueDateTime,
    updated: part('referralLastUpdated')?.valueDateTime ?? summary?.lastUpdated,
    appointmentStart: part('appointmentStart')?.valueDateTime,
  };
}

/** What the user may do to the referral now (a029), as e-RS's available actions. */
async function availableActions(staff: ErsStaff, summary: ReferralSummary) {
  const focus = encodeURIComponent(`ReferralRequest/${summary.ubrn}/_history/${summary.version}`);
  const res = await staff.tools.call({
    url: `${API.referrals}/Task?focus=${focus}&intent=proposal&status=ready`,
    headers: staff.headers,
  });
  const entries: any[] = res.status === 200 && Array.isArray(res.body?.entry) ? res.body.entry : [];
  return entries
    .map((e) => e?.resource?.code?.coding?.[0])
    .filter((c) => c?.code)
    .map((c) => ({ code: String(c.code), text: String(c.display ?? c.code) }));
}
