/** What the staff e-RS pages share: the business function a page acts in, and the referral reads. */
import type { FastifyRequest } from 'fastify';
import type { Activity } from '../../security/policy.js';
import { API } from './api-paths.js';
import { bannerOf } from './patient-record.js';
import {
  ersHeaders,
  functionsFor,
  summariseAppointment,
  summariseReferral,
  type ReferralSummary,
} from './referral-data.js';
import type { WebContext } from './web-context.js';
import { pageTools, type PageTools, type PatientBanner } from './web-page.js';

export const STAFF = { public: true, webAudience: 'staff' } as const;
export const UBRN_PARAMS = {
  params: {
    type: 'object',
    properties: { ubrn: { type: 'string', pattern: '^[0-9]{12}$' } },
    required: ['ubrn'],
  },
} as const;

/** What the e-RS pages of a staff user work with: their tools and the business function chosen. */
export interface ErsStaff {
  tools: PageTools;
  fn: string;
  functions: string[];
  headers: Record<string, string>;
}

/**
 * The business function a page acts in: the one asked for (`function` in the query or form) when
 * the user's role may act in it and it allows `activity`, else the first that does.
 */
export function ersStaff(
  ctx: WebContext,
  req: FastifyRequest,
  activity: Activity,
  asked?: string,
): ErsStaff {
  const tools = pageTools(ctx.client, req);
  const functions = functionsFor(tools.user.role, activity);
  const wanted = asked ?? (req.query as Record<string, unknown> | undefined)?.function;
  const fn = functions.find((f) => f === wanted) ?? functions[0] ?? '';
  return { tools, fn, functions, headers: ersHeaders(fn, tools.user.org) };
}

/** The patient banner: PDS's, or the NHS Number alone when PDS does not answer this user. */
export async function referralBanner(tools: PageTools, nhsNumber: string): Promise<PatientBanner> {
  const res = await tools.call({ url: `${API.pds}/Patient/${nhsNumber}` });
  return res.status === 200 ? bannerOf(res.body) : { nhsNumber, name: 'Patient' };
}

/** Reads a referral (a005) as the user in their business function. */
export async function readReferral(staff: ErsStaff, ubrn: string) {
  const res = await staff.tools.expect({
    url: `${API.referrals}/ReferralRequest/${ubrn}`,
    headers: staff.headers,
  });
  return { referral: res.body, summary: summariseReferral(res.body) };
}

export const functionQuery = (fn: string) => `function=${encodeURIComponent(fn)}`;

/** The referral's current appointment (a038), when it has one the user may read. */
export async function readAppointment(staff: ErsStaff, summary: ReferralSummary) {
  if (!summary.appointmentId) return undefined;
  const res = await staff.tools.call({
    url: `${API.referrals}/Appointment/${summary.appointmentId}`,
    headers: staff.headers,
  });
  return res.status === 200 ? { body: res.body, ...summariseAppointment(res.body) } : undefined;
}
