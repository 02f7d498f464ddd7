/**
 * The privacy officer's journeys: /privacy lists the emergency (break-glass) access and the
 * self-claimed relationships to review, newest first, and finds a patient's access log;
 * /patient/:nhsNumber/access-log shows every access to that patient's record, paged as the
 * platform's AuditEvent search pages. Everything is read through that search (audit.read), which
 * itself audits each read.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isValidNhsNumber } from '../../fhir/nhs-number.js';
import { API } from './api-paths.js';
import { auditPage, cursorParam, type AuditRow } from './audit-view.js';
import { roleCan } from './navigation.js';
import { loadPatient } from './patient-record.js';
import { WEB_BASE } from './paths.js';
import { formatNhsNumber } from './template-filters.js';
import type { WebContext } from './web-context.js';
import {
  formField,
  NHS_NUMBER_PARAMS,
  pageTools,
  redirectTo,
  renderPage,
  type PageTools,
} from './web-page.js';

/** The alert kinds a privacy officer reviews: the AuditEvent search's types. */
const ALERT_TYPES = {
  'emergency-access': 'Emergency access',
  'self-claimed-relationship': 'Self-claimed relationships',
} as const;
type AlertType = keyof typeof ALERT_TYPES;
const ALERT_PLURALS: Record<AlertType, string> = {
  'emergency-access': 'emergency access alerts',
  'self-claimed-relationship': 'self-claimed relationship alerts',
};
const PAGE = 25;
const LOG_PAGE = 50;

const isAlertType = (v: unknown): v is AlertType =>
  typeof v === 'string' && Object.hasOwn(ALERT_TYPES, v);

async function search(tools: PageTools, query: Record<string, string | undefined>) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, v);
  const res = await tools.expect({ url: `${API.security}/AuditEvent?${params}` });
  return auditPage(res.body);
}

interface AlertList {
  rows: AuditRow[];
  /** Where older alerts of each kind start, when there are more than shown. */
  older: { type: AlertType; text: string; href: string }[];
  nextHref?: string;
  firstHref?: string;
}

/**
 * The alerts to review. One kind: a page of the search, paged by its own cursor. Both kinds: the
 * newest page of each, merged newest first (the id is the entry's place in the audit chain), with
 * links on to each kind's older alerts.
 */
async function alertList(
  tools: PageTools,
  show: AlertType | 'all',
  cursor: string | undefined,
): Promise<AlertList> {
  const href = (type: AlertType, c?: string) =>
    `${WEB_BASE}/privacy?show=${type}${c ? `&cursor=${c}` : ''}`;
  if (show !== 'all') {
    const page = await search(tools, { type: show, _count: String(PAGE), _cursor: cursor });
    return {
      rows: page.rows,
      older: [],
      ...(page.next ? { nextHref: href(show, page.next) } : {}),
      ...(cursor ? { firstHref: href(show) } : {}),
    };
  }
  const types = Object.keys(ALERT_TYPES) as AlertType[];
  const pages = await Promise.all(
    types.map((type) => search(tools, { type, _count: String(PAGE) })),
  );
  const rows = pages
    .flatMap((p) => p.rows)
    .sort((a, b) => Number(b.id) - Number(a.id))
    .slice(0, PAGE);
  const shown = new Set(rows.map((r) => r.id));
  const older = types
    .filter((_, i) => pages[i].next || pages[i].rows.some((r) => !shown.has(r.id)))
    .map((type) => ({
      type,
      text: `See all ${ALERT_PLURALS[type]}`,
      href: href(type),
    }));
  return { rows, older };
}

async function showAlerts(
  req: FastifyRequest,
  reply: FastifyReply,
  ctx: WebContext,
  opts: { status?: number; nhsNumber?: string; error?: string } = {},
): Promise<FastifyReply> {
  const tools = pageTools(ctx.client, req);
  const query = (req.query ?? {}) as Record<string, unknown>;
  const show = isAlertType(query.show) ? query.show : 'all';
  const list = await alertList(tools, show, show === 'all' ? undefined : cursorParam(query.cursor));
  const filters = [
    { href: `${WEB_BASE}/privacy`, text: 'All alerts', current: show === 'all' },
    ...(Object.keys(ALERT_TYPES) as AlertType[]).map((type) => ({
      href: `${WEB_BASE}/privacy?show=${type}`,
      text: ALERT_TYPES[type],
      current: show === type,
    })),
  ];
  return renderPage(req, reply, opts.status ?? 200, 'pages/privacy/alerts.njk', {
    title: 'Privacy alerts',
    filters,
    showing: show === 'all' ? 'Emergency access and self-claimed relationships' : ALERT_TYPES[show],
    ...list,
    nhsNumber: opts.nhsNumber,
    errorList: opts.error ? [{ text: opts.error, href: '#nhsNumber' }] : [],
    nhsNumberError: opts.error ? { text: opts.error } : undefined,
  });
}

export function privacyPages(ctx: WebContext) {
  return async function plugin(web: FastifyInstance): Promise<void> {
    const staff = { public: true, webAudience: 'staff' } as const;

    web.get('/privacy', { config: staff }, async (req, reply) => showAlerts(req, reply, ctx));

    // "see a patient's access log": the NHS Number goes in a form, then into the path
    web.post('/privacy', { config: staff }, async (req, reply) => {
      const raw = formField(req, 'nhsNumber');
      const nhs = raw?.replace(/[\s-]/g, '');
      const error = !raw
        ? 'Enter an NHS Number'
        : !/^\d{10}$/.test(nhs!)
          ? 'NHS Number must be 10 digits'
          : !isValidNhsNumber(nhs)
            ? 'Enter a valid NHS Number'
            : undefined;
      if (error) return showAlerts(req, reply, ctx, { status: 400, nhsNumber: raw, error });
      return redirectTo(reply, `${WEB_BASE}/patient/${nhs}/access-log`);
    });

    web.get<{ Params: { nhsNumber: string }; Querystring: { cursor?: string } }>(
      '/patient/:nhsNumber/access-log',
      { schema: NHS_NUMBER_PARAMS, config: staff },
      async (req, reply) => {
        const tools = pageTools(ctx.client, req);
        const nhs = req.params.nhsNumber;
        const cursor = cursorParam(req.query.cursor);
        const page = await search(tools, {
          patient: nhs,
          _count: String(LOG_PAGE),
          _cursor: cursor,
        });
        // the banner needs a demographics read, which a privacy officer's role does not have
        const banner = roleCan(tools.user, 'pds.read')
          ? (await loadPatient(tools, nhs)).banner
          : undefined;
        const href = `${WEB_BASE}/patient/${nhs}/access-log`;
        return renderPage(req, reply, 200, 'pages/privacy/access-log.njk', {
          title: banner ? 'Access log' : `Access log for NHS Number ${formatNhsNumber(nhs)}`,
          ...(banner ? { patient: banner, activeTab: href } : {}),
          nhsNumber: nhs,
          rows: page.rows,
          total: page.total,
          ...(page.next ? { nextHref: `${href}?cursor=${page.next}` } : {}),
          ...(cursor ? { firstHref: href } : {}),
        });
      },
    );
  };
}
