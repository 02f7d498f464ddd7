/**
 * The prescription tracker (staff: by prescription ID or NHS Number), a prescription's items and
 * history, the Prescriptions tab of a patient's record, and a patient's own prescriptions. Every
 * read is the EPS tracker (GET /Task, docs/eps.md) as the signed-in person, so its relationship
 * rules and audit apply: staff need a relationship with the patient, a patient sees only their own.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isValidNhsNumber } from '../../fhir/nhs-number.js';
import { roleCan } from './navigation.js';
import { WEB_BASE } from './paths.js';
import { loadPatient } from './patient-record.js';
import { ApiError } from './platform-client.js';
import {
  organisationNames,
  organisationsIn,
  prescriptionsOf,
  trackerUrl,
  type PrescriptionView,
} from './prescription-view.js';
import type { WebContext } from './web-context.js';
import { outcomeMessages } from './web-errors.js';
import {
  formField,
  NHS_NUMBER_PARAMS,
  pageTools,
  redirectTo,
  renderPage,
  userOf,
  type PageData,
  type PageTools,
} from './web-page.js';

const STAFF = { public: true, webAudience: 'staff' } as const;
const PATIENT = { public: true, webAudience: 'patient' } as const;
const TEMPLATES = 'pages/prescriptions';
const TRACKER_TITLE = 'Prescription tracker';
/**
 * The short-form prescription ID's shape (docs/eps.md, Identifiers); its check character is EPS's
 * to verify (a wrong one is the tracker's 400 INVALID_PRESCRIPTION_ID, explained on the page).
 */
const SHORT_FORM_ID = /^[0-9A-F]{6}-[0-9A-Z]{6}-[0-9A-F]{5}[0-9A-Z+]$/;

/** A short-form prescription ID in the path (checked again, with its check character, by EPS). */
const ID_PARAMS = {
  params: {
    type: 'object',
    properties: {
      id: { type: 'string', pattern: '^[0-9A-Fa-f]{6}-[0-9A-Za-z]{6}-[0-9A-Fa-f]{5}[0-9A-Za-z+]$' },
    },
    required: ['id'],
  },
} as const;

/** What the tracker answered: the prescriptions, or the refusal a page explains. */
type Tracked =
  | { ok: true; prescriptions: PrescriptionView[] }
  | { ok: false; status: number; code?: string; messages: string[] };

/** Asks the tracker; expected refusals (400, 403, 404) come back for the page to explain. */
async function track(tools: PageTools, by: 'prescription' | 'patient', value: string) {
  const res = await tools.call({ url: trackerUrl(by, value) });
  if (res.status === 200)
    return { ok: true, prescriptions: prescriptionsOf(res.body) } satisfies Tracked;
  if ([400, 403, 404].includes(res.status))
    return { ok: false, status: res.status, ...outcomeMessages(res.body) } satisfies Tracked;
  throw new ApiError(res);
}

/** Staff pages need the tracker activity; other roles get the permission page, not an API error. */
function requireTracker(req: FastifyRequest): void {
  if (!roleCan(userOf(req), 'eps.track'))
    throw Object.assign(new Error('your role cannot track prescriptions'), { statusCode: 403 });
}

/** Names of the organisations the prescriptions mention (staff only), for the templates. */
async function withNames(tools: PageTools, prescriptions: PrescriptionView[]) {
  return {
    prescriptions,
    orgNames: await organisationNames(tools, organisationsIn(prescriptions)),
  };
}

function trackerForm(req: FastifyRequest, reply: FastifyReply, status: number, data: object = {}) {
  return renderPage(req, reply, status, `${TEMPLATES}/tracker.njk`, {
    title: TRACKER_TITLE,
    ...data,
  });
}

/** Reads what was typed into the tracker's one box: an NHS Number or a prescription ID. */
function parseSearch(raw: string | undefined): { nhsNumber: string } | { id: string } | string {
  if (!raw) return 'Enter a prescription ID or an NHS Number';
  const compact = raw.replace(/[\s]/g, '');
  if (/^\d+$/.test(compact)) {
    if (compact.length !== 10) return 'An NHS Number is 10 digits, like 943 476 5919';
    if (!isValidNhsNumber(compact)) return 'Enter a valid NHS Number: check each digit';
    return { nhsNumber: compact };
  }
  const id = compact.toUpperCase();
  if (!SHORT_FORM_ID.test(id))
    return 'Enter a prescription ID like 7C2D1E-Z99990-4A5B6Y, or a 10-digit NHS Number';
  return { id };
}

export function prescriptionPages(ctx: WebContext) {
  return async function plugin(web: FastifyInstance): Promise<void> {
    web.get('/prescriptions', { config: STAFF }, async (req, reply) => {
      requireTracker(req);
      return trackerForm(req, reply, 200);
    });

    web.post('/prescriptions', { config: STAFF }, async (req, reply) => {
      requireTracker(req);
      const search = formField(req, 'search');
      const parsed = parseSearch(search);
      if (typeof parsed === 'string')
        return trackerForm(req, reply, 400, {
          search,
          errorList: [{ text: parsed, href: '#search' }],
          searchError: { text: parsed },
        });
      if ('id' in parsed)
        return redirectTo(reply, `${WEB_BASE}/prescriptions/${encodeURIComponent(parsed.id)}`);
      const tools = pageTools(ctx.client, req);
      const found = await track(tools, 'patient', parsed.nhsNumber);
      if (!found.ok && found.status === 400)
        return trackerForm(req, reply, 400, {
          search,
          errorList: [{ text: found.messages[0] ?? 'Enter a valid NHS Number', href: '#search' }],
          searchError: { text: found.messages[0] ?? 'Enter a valid NHS Number' },
        });
      if (!found.ok) return trackerForm(req, reply, found.status, { search, refused: found });
      return trackerForm(req, reply, 200, {
        search,
        nhsNumber: parsed.nhsNumber,
        ...(await withNames(tools, found.prescriptions)),
      });
    });

    web.get<{ Params: { id: string } }>(
      '/prescriptions/:id',
      { config: STAFF, schema: ID_PARAMS },
      async (req, reply) => {
        requireTracker(req);
        const id = req.params.id.toUpperCase();
        const tools = pageTools(ctx.client, req);
        const found = await track(tools, 'prescription', id);
        if (!found.ok)
          return renderPage(req, reply, found.status, `${TEMPLATES}/detail.njk`, {
            title: `Prescription ${id}`,
            shortFormId: id,
            refused: found,
          });
        const first = found.prescriptions[0];
        const record = first?.nhsNumber ? await loadPatient(tools, first.nhsNumber) : undefined;
        return renderPage(req, reply, 200, `${TEMPLATES}/detail.njk`, {
          title: `Prescription ${id}`,
          shortFormId: id,
          ...(record ? { patient: record.banner } : {}),
          ...(await withNames(tools, found.prescriptions)),
        });
      },
    );

    web.get<{ Params: { nhsNumber: string } }>(
      '/patient/:nhsNumber/prescriptions',
      { config: STAFF, schema: NHS_NUMBER_PARAMS },
      async (req, reply) => {
        requireTracker(req);
        const nhs = req.params.nhsNumber;
        const tools = pageTools(ctx.client, req);
        const record = await loadPatient(tools, nhs);
        const found = await track(tools, 'patient', nhs);
        const data: PageData = {
          title: 'Prescriptions',
          patient: record.banner,
          activeTab: `${WEB_BASE}/patient/${nhs}/prescriptions`,
          nhsNumber: nhs,
        };
        if (!found.ok)
          return renderPage(req, reply, found.status, `${TEMPLATES}/patient.njk`, {
            ...data,
            refused: found,
          });
        return renderPage(req, reply, 200, `${TEMPLATES}/patient.njk`, {
          ...data,
          ...(await withNames(tools, found.prescriptions)),
        });
      },
    );

    web.get('/me/prescriptions', { config: PATIENT }, async (req, reply) => {
      const tools = pageTools(ctx.client, req);
      const nhs = tools.user.nhsNumber ?? tools.user.userId;
      const res = await tools.expect({ url: trackerUrl('patient', nhs) });
      return renderPage(req, reply, 200, `${TEMPLATES}/mine.njk`, {
        title: 'My prescriptions',
        prescriptions: prescriptionsOf(res.body),
      });
    });

    web.get<{ Params: { id: string } }>(
      '/me/prescriptions/:id',
      { config: PATIENT, schema: ID_PARAMS },
      async (req, reply) => {
        const id = req.params.id.toUpperCase();
        const tools = pageTools(ctx.client, req);
        const found = await track(tools, 'prescription', id);
        // someone else's prescription is, to a patient, one that cannot be found
        if (!found.ok)
          return renderPage(req, reply, 404, `${TEMPLATES}/mine-detail.njk`, {
            title: 'Prescription not found',
            shortFormId: id,
            notFound: true,
          });
        return renderPage(req, reply, 200, `${TEMPLATES}/mine-detail.njk`, {
          title: 'Your prescription',
          shortFormId: id,
          prescriptions: found.prescriptions,
        });
      },
    );
  };
}
