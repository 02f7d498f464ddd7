import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { API } from './api-paths.js';
import {
  accessRows,
  checkEmail,
  checkMobile,
  checkOdsCode,
  choicesOf,
  consentBody,
  contactDetailsOf,
  contactPatch,
  gpPracticeOf,
  nextCursor,
  nominatedPharmacyOf,
  organisationName,
  otherTelecoms,
  ownNhsNumber,
  pharmacyPatch,
  SCR_CHOICES,
  type ContactDetails,
  type ScrChoice,
} from './my-record-data.js';
import { addressLine, displayName, isRestrictedRecord, loadPatient } from './patient-record.js';
import { WEB_BASE } from './paths.js';
import { ApiError, type ApiResponse } from './platform-client.js';
import type { WebContext } from './web-context.js';
import { outcomeMessages } from './web-errors.js';
import { formField, pageTools, redirectTo, renderPage, type PageTools } from './web-page.js';

const patientOnly = { config: { public: true, webAudience: 'patient' as const } };
const ETAG = /^W\/"\d+"$/;
const ACCESS_LOG_PAGE = 20;

/** The confirmation each successful change leads to (post/redirect/get: ?changed=<key>). */
const CONFIRMATIONS: Record<string, string> = {
  contact: 'Your contact details have been updated.',
  scr: 'Your Summary Care Record choice has been saved.',
  'opt-out': 'Your national data opt-out choice has been saved.',
  pharmacy: 'Your nominated pharmacy has been changed.',
  'pharmacy-removed': 'You no longer have a nominated pharmacy.',
};

const SCR_LABELS: Record<ScrChoice, { text: string; hint: string }> = {
  'scr-core': {
    text: 'Core information only',
    hint: 'Your medicines, allergies and any bad reactions to medicines (the standard record).',
  },
  'scr-additional': {
    text: 'Core and additional information',
    hint: 'Also your long-term conditions, care preferences and vaccinations.',
  },
  'scr-dissent': {
    text: 'No Summary Care Record',
    hint: 'Staff in other care settings will not see your medicines or allergies.',
  },
};

type FormError = { text: string; href: string };

function confirmation(req: FastifyRequest): string | undefined {
  const changed = (req.query as Record<string, unknown> | undefined)?.changed;
  return typeof changed === 'string' ? CONFIRMATIONS[changed] : undefined;
}

/** A PATCH of the patient's own PDS record, as JSON Patch, with the ETag they saw as If-Match. */
function patchOwnRecord(tools: PageTools, nhs: string, etag: string, patches: unknown[]) {
  return tools.call({
    method: 'PATCH',
    url: `${API.pds}/Patient/${nhs}`,
    headers: { 'if-match': etag, 'content-type': 'application/json-patch+json' },
    body: { patches },
  });
}

const isConflict = (res: ApiResponse) => res.status === 409 || res.status === 412;

/** An answer the page explains itself (what PDS said about the change); anything else is an error page. */
function refusalText(res: ApiResponse): string {
  if (res.status >= 500 || res.status === 429) throw new ApiError(res);
  const said = outcomeMessages(res.body).messages[0];
  return `The change was not accepted${said ? `: ${said}` : '.'}`;
}

interface DetailsForm {
  values?: ContactDetails;
  errors?: Partial<Record<keyof ContactDetails, string>>;
  errorList?: FormError[];
  conflict?: { field: string; was: string; now: string }[];
}

async function renderDetails(
  req: FastifyRequest,
  reply: FastifyReply,
  tools: PageTools,
  status: number,
  form: DetailsForm = {},
) {
  const nhs = ownNhsNumber(tools);
  const record = await loadPatient(tools, nhs);
  const p = record.patient;
  const contact = contactDetailsOf(p);
  const gp = gpPracticeOf(p);
  return renderPage(req, reply, status, 'pages/me/details.njk', {
    title: 'My details',
    confirmation: status === 200 ? confirmation(req) : undefined,
    nhsNumber: nhs,
    name: displayName(p),
    birthDate: p.birthDate,
    address: addressLine(p),
    restricted: isRestrictedRecord(p),
    gp: gp ? { code: gp, name: await organisationName(tools, gp) } : undefined,
    contact,
    otherTelecoms: otherTelecoms(p),
    etag: record.etag,
    values: form.values ?? contact,
    errors: form.errors ?? {},
    errorList: form.errorList ?? [],
    conflict: form.conflict,
  });
}

async function renderPharmacy(
  req: FastifyRequest,
  reply: FastifyReply,
  tools: PageTools,
  status: number,
  form: { odsCode?: string; error?: string; conflict?: string; refused?: string } = {},
) {
  const record = await loadPatient(tools, ownNhsNumber(tools));
  const current = nominatedPharmacyOf(record.patient);
  const errorList: FormError[] = [];
  if (form.error) errorList.push({ text: form.error, href: '#odsCode' });
  if (form.refused) errorList.push({ text: form.refused, href: '#odsCode' });
  return renderPage(req, reply, status, 'pages/me/pharmacy.njk', {
    title: 'My nominated pharmacy',
    confirmation: status === 200 ? confirmation(req) : undefined,
    restricted: isRestrictedRecord(record.patient),
    pharmacy: current
      ? { code: current.odsCode, name: await organisationName(tools, current.odsCode) }
      : undefined,
    etag: record.etag,
    odsCode: form.odsCode ?? '',
    error: form.error,
    errorList,
    conflict: form.conflict,
  });
}

async function renderChoices(
  req: FastifyRequest,
  reply: FastifyReply,
  tools: PageTools,
  status: number,
  errorList: FormError[] = [],
) {
  const nhs = ownNhsNumber(tools);
  const res = await tools.expect({ url: `${API.scr}/Consent?patient=${nhs}` });
  const choices = choicesOf(res.body);
  return renderPage(req, reply, status, 'pages/me/choices.njk', {
    title: 'My choices',
    confirmation: status === 200 ? confirmation(req) : undefined,
    scr: choices.scr,
    scrLabel: SCR_LABELS[choices.scr].text,
    optedOut: choices.optedOut,
    since: choices.since,
    scrItems: SCR_CHOICES.map((code) => ({
      value: code,
      text: SCR_LABELS[code].text,
      hint: { text: SCR_LABELS[code].hint },
      checked: code === choices.scr,
    })),
    errorList,
  });
}

/**
 * The patient's own pages (NHS login): their details and contact details, who has looked at their
 * record, their SCR and national data opt-out choices, and their nominated pharmacy. Every page
 * names only the signed-in patient's own NHS Number (from the session, never from the request),
 * and the platform's APIs check again that a patient token reaches only its own record.
 */
export function myRecordPages(ctx: WebContext) {
  return async function plugin(web: FastifyInstance): Promise<void> {
    web.get('/me', patientOnly, async (req, reply) =>
      renderDetails(req, reply, pageTools(ctx.client, req), 200),
    );

    web.post('/me/contact', patientOnly, async (req, reply) => {
      const tools = pageTools(ctx.client, req);
      const mobile = checkMobile(formField(req, 'mobile'));
      const email = checkEmail(formField(req, 'email'));
      const values = {
        mobile: formField(req, 'mobile') ?? '',
        email: formField(req, 'email') ?? '',
      };
      const errors: DetailsForm['errors'] = {};
      if ('error' in mobile) errors.mobile = mobile.error;
      if ('error' in email) errors.email = email.error;
      const etag = formField(req, 'etag') ?? '';
      if (!ETAG.test(etag))
        errors.mobile ??= 'The form has expired. Check your details and try again.';
      if (errors.mobile || errors.email)
        return renderDetails(req, reply, tools, 400, {
          values,
          errors,
          errorList: (['mobile', 'email'] as const)
            .filter((f) => errors[f])
            .map((f) => ({ text: errors[f]!, href: `#${f}` })),
        });
      const wanted = {
        mobile: (mobile as { value: string }).value,
        email: (email as { value: string }).value,
      };
      const nhs = ownNhsNumber(tools);
      const record = await loadPatient(tools, nhs);
      const patches = contactPatch(record.patient, wanted);
      const res = patches.length ? await patchOwnRecord(tools, nhs, etag, patches) : null;
      if (!res || (res.status >= 200 && res.status < 300))
        return redirectTo(reply, `${WEB_BASE}/me?changed=contact`);
      if (isConflict(res)) {
        // what the form was opened with, against the record as it is now
        const now = contactDetailsOf(record.patient);
        const was = {
          mobile: formField(req, 'was-mobile') ?? '',
          email: formField(req, 'was-email') ?? '',
        };
        const labels = { mobile: 'Mobile phone number', email: 'Email address' } as const;
        const conflict = (['mobile', 'email'] as const)
          .filter((f) => was[f] !== now[f])
          .map((f) => ({ field: labels[f], was: was[f], now: now[f] }));
        return renderDetails(req, reply, tools, 409, { values, conflict });
      }
      const text = refusalText(res);
      return renderDetails(req, reply, tools, 400, {
        values,
        errors: { mobile: text },
        errorList: [{ text, href: '#mobile' }],
      });
    });

    web.get('/me/access-log', patientOnly, async (req, reply) => {
      const tools = pageTools(ctx.client, req);
      const nhs = ownNhsNumber(tools);
      const raw = (req.query as Record<string, unknown> | undefined)?.page;
      const cursor = typeof raw === 'string' && /^\d+\.\d+$/.test(raw) ? raw : undefined;
      const query = new URLSearchParams({ patient: nhs, _count: String(ACCESS_LOG_PAGE) });
      if (cursor) query.set('_cursor', cursor);
      const res = await tools.expect({ url: `${API.security}/AuditEvent?${query}` });
      const next = nextCursor(res.body);
      return renderPage(req, reply, 200, 'pages/me/access-log.njk', {
        title: 'Who has looked at my record',
        rows: accessRows(res.body, nhs),
        total: typeof res.body?.total === 'number' ? res.body.total : undefined,
        nextHref: next ? `${WEB_BASE}/me/access-log?page=${next}` : undefined,
        firstHref: cursor ? `${WEB_BASE}/me/access-log` : undefined,
      });
    });

    web.get('/me/choices', patientOnly, async (req, reply) =>
      renderChoices(req, reply, pageTools(ctx.client, req), 200),
    );

    web.post('/me/choices/scr', patientOnly, async (req, reply) => {
      const tools = pageTools(ctx.client, req);
      const choice = formField(req, 'scr');
      if (!choice || !SCR_CHOICES.includes(choice as ScrChoice))
        return renderChoices(req, reply, tools, 400, [
          { text: 'Choose what your Summary Care Record should hold', href: '#scr' },
        ]);
      await tools.expect({
        method: 'POST',
        url: `${API.scr}/Consent`,
        body: consentBody(ownNhsNumber(tools), choice),
      });
      return redirectTo(reply, `${WEB_BASE}/me/choices?changed=scr`);
    });

    web.post('/me/choices/opt-out', patientOnly, async (req, reply) => {
      const tools = pageTools(ctx.client, req);
      const choice = formField(req, 'optOut');
      if (choice !== 'yes' && choice !== 'no')
        return renderChoices(req, reply, tools, 400, [
          {
            text: 'Choose whether your data may be used for research and planning',
            href: '#optOut',
          },
        ]);
      await tools.expect({
        method: 'POST',
        url: `${API.scr}/$set-opt-out`,
        body: {
          resourceType: 'Parameters',
          parameter: [
            {
              name: 'patient',
              valueIdentifier: {
                system: 'https://fhir.nhs.uk/Id/nhs-number',
                value: ownNhsNumber(tools),
              },
            },
            { name: 'optOut', valueBoolean: choice === 'yes' },
          ],
        },
      });
      return redirectTo(reply, `${WEB_BASE}/me/choices?changed=opt-out`);
    });

    web.get('/me/pharmacy', patientOnly, async (req, reply) =>
      renderPharmacy(req, reply, pageTools(ctx.client, req), 200),
    );

    const changePharmacy = async (req: FastifyRequest, reply: FastifyReply, remove: boolean) => {
      const tools = pageTools(ctx.client, req);
      const entered = formField(req, 'odsCode');
      const code = remove ? { value: null } : checkOdsCode(entered);
      if ('error' in code) return renderPharmacy(req, reply, tools, 400, { error: code.error });
      const etag = formField(req, 'etag') ?? '';
      if (!ETAG.test(etag))
        return renderPharmacy(req, reply, tools, 400, {
          odsCode: entered,
          error: 'The form has expired. Check your pharmacy and try again.',
        });
      const nhs = ownNhsNumber(tools);
      const record = await loadPatient(tools, nhs);
      const patches = pharmacyPatch(record.patient, code.value);
      const res = patches.length ? await patchOwnRecord(tools, nhs, etag, patches) : null;
      if (!res || (res.status >= 200 && res.status < 300))
        return redirectTo(
          reply,
          `${WEB_BASE}/me/pharmacy?changed=${remove ? 'pharmacy-removed' : 'pharmacy'}`,
        );
      if (isConflict(res)) {
        const now = nominatedPharmacyOf(record.patient)?.odsCode ?? '';
        const was = formField(req, 'was-pharmacy') ?? '';
        return renderPharmacy(req, reply, tools, 409, {
          odsCode: entered,
          conflict:
            was === now
              ? 'Your record was changed elsewhere while you were on this page. Your nominated pharmacy is as shown.'
              : now
                ? `Your nominated pharmacy was changed to ${now} while you were on this page.`
                : 'Your nominated pharmacy was removed while you were on this page.',
        });
      }
      return renderPharmacy(req, reply, tools, 400, {
        odsCode: entered,
        refused: refusalText(res),
      });
    };
    web.post('/me/pharmacy', patientOnly, async (req, reply) => changePharmacy(req, reply, false));
    web.post('/me/pharmacy/remove', patientOnly, async (req, reply) =>
      changePharmacy(req, reply, true),
    );
  };
}
