import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { API } from './api-paths.js';
import {
  checkDetails,
  checkNhsNumber,
  MAX_RESULTS,
  pdsSearchErrors,
  readDetails,
  traceOutcome,
  type DetailsSearch,
  type FieldError,
} from './patient-search-form.js';
import { WEB_BASE } from './paths.js';
import { ApiError } from './platform-client.js';
import type { WebContext } from './web-context.js';
import { formField, pageTools, redirectTo, renderPage } from './web-page.js';

const TEMPLATE = 'pages/patients/search.njk';
const TITLE = 'Find a patient';
const staff = { config: { public: true, webAudience: 'staff' as const } };

interface SearchView {
  by?: 'nhs' | 'details';
  nhsNumber?: string;
  details?: DetailsSearch;
  errorList?: FieldError[];
  results?: ReturnType<typeof traceOutcome>;
}

function renderSearch(req: FastifyRequest, reply: FastifyReply, status: number, view: SearchView) {
  const errorOf = (href: string) => view.errorList?.find((e) => e.href === href);
  const errors: Record<string, { text: string } | undefined> = {};
  for (const href of [
    '#nhs-number',
    '#family-name',
    '#given-name',
    '#birth-date-day',
    '#gender',
    '#postcode',
  ]) {
    const e = errorOf(href);
    errors[href.slice(1)] = e ? { text: e.text } : undefined;
  }
  return renderPage(req, reply, status, TEMPLATE, {
    title: TITLE,
    ...view,
    errors,
    maxResults: MAX_RESULTS,
  });
}

/**
 * Find a patient (staff): a trace of the national register (PDS) by NHS Number, or by name, date
 * of birth, gender and postcode (exactly or by fuzzy match). The search is a POST form, so no
 * patient detail is ever in an address; an NHS Number leads straight to the patient's page.
 */
export function patientSearchPages(ctx: WebContext) {
  return async function plugin(web: FastifyInstance): Promise<void> {
    web.get('/patients', staff, async (req, reply) => renderSearch(req, reply, 200, {}));

    web.post('/patients', staff, async (req, reply) => {
      const field = (name: string) => formField(req, name);
      if (field('by') === 'nhs') {
        const typed = field('nhs-number');
        const { nhs, error } = checkNhsNumber(typed);
        if (error)
          return renderSearch(req, reply, 400, { by: 'nhs', nhsNumber: typed, errorList: [error] });
        return redirectTo(reply, `${WEB_BASE}/patient/${nhs}`);
      }
      const details = readDetails(field);
      const { query, errors } = checkDetails(details);
      if (!query)
        return renderSearch(req, reply, 400, { by: 'details', details, errorList: errors });
      const tools = pageTools(ctx.client, req);
      const res = await tools.call({ url: `${API.pds}/Patient?${query}` });
      if (res.status === 400)
        return renderSearch(req, reply, 400, {
          by: 'details',
          details,
          errorList: pdsSearchErrors(res.body),
        });
      if (res.status !== 200) throw new ApiError(res);
      return renderSearch(req, reply, 200, {
        by: 'details',
        details,
        results: traceOutcome(res.body),
      });
    });
  };
}
