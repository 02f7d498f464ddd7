import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { API } from './api-paths.js';
import {
  changesBetween,
  confidentiality,
  editValuesOf,
  type EditValues,
  type Json,
} from './demographics-model.js';
import {
  buildPatch,
  checkEdit,
  FIELD_IDS,
  pdsEditErrors,
  readEditForm,
} from './demographics-patch.js';
import { demographicsOf, reapply } from './demographics-view.js';
import { roleCan } from './navigation.js';
import type { FieldError } from './patient-search-form.js';
import { loadPatient, type PatientRecord } from './patient-record.js';
import { WEB_BASE } from './paths.js';
import { ApiError } from './platform-client.js';
import type { WebContext } from './web-context.js';
import {
  formField,
  NHS_NUMBER_PARAMS,
  pageTools,
  redirectTo,
  renderPage,
  type PageTools,
} from './web-page.js';

interface NhsParams {
  nhsNumber: string;
}
const staff = {
  schema: NHS_NUMBER_PARAMS,
  config: { public: true, webAudience: 'staff' as const },
};
const ETAG = /^W\/"\d+"$/;

const recordTab = (nhs: string) => `${WEB_BASE}/patient/${nhs}`;

/** The version of the record an ETag names, from its history; undefined when there is none. */
async function versionOf(tools: PageTools, nhs: string, etag: string): Promise<Json | undefined> {
  const res = await tools.call({ url: `${API.pds}/Patient/${nhs}/_history` });
  if (res.status !== 200) return undefined;
  const entries: any[] = Array.isArray(res.body?.entry) ? res.body.entry : [];
  return entries.find((e) => e?.response?.etag === etag)?.resource;
}

function mayUpdate(tools: PageTools): void {
  if (!roleCan(tools.user, 'pds.update'))
    throw Object.assign(new Error('this role may not update demographics'), { statusCode: 403 });
}

function renderEdit(
  req: FastifyRequest,
  reply: FastifyReply,
  status: number,
  record: PatientRecord,
  form: { values: EditValues; etag: string; errorList?: FieldError[] },
  template = 'pages/patients/edit.njk',
  extra: Record<string, unknown> = {},
) {
  const errors: Record<string, { text: string } | undefined> = {};
  for (const id of Object.values(FIELD_IDS)) {
    const e = form.errorList?.find((x) => x.href === `#${id}`);
    errors[id] = e ? { text: e.text } : undefined;
  }
  return renderPage(req, reply, status, template, {
    title: template.endsWith('conflict.njk')
      ? 'Someone else has changed this record'
      : 'Update contact details',
    patient: record.banner,
    activeTab: recordTab(record.banner.nhsNumber),
    restricted: confidentiality(record.patient) !== 'U',
    ...form,
    errors,
    ...extra,
  });
}

/**
 * A patient's demographics (staff): the PDS record read as the signed-in person, and the update
 * of address, contact details, GP practice and nominated pharmacy by a PDS PATCH made against the
 * version the form was built from (If-Match). When someone else changed the record meanwhile, the
 * person sees what changed and may apply their change again on the record as it is now.
 */
export function demographicsPages(ctx: WebContext) {
  return async function plugin(web: FastifyInstance): Promise<void> {
    web.get<{ Params: NhsParams }>('/patient/:nhsNumber', staff, async (req, reply) => {
      const tools = pageTools(ctx.client, req);
      const record = await loadPatient(tools, req.params.nhsNumber);
      const demographics = await demographicsOf(tools, record.patient);
      const query = req.query as Record<string, unknown>;
      return renderPage(req, reply, 200, 'pages/patients/demographics.njk', {
        title: 'Demographics',
        patient: record.banner,
        activeTab: recordTab(record.banner.nhsNumber),
        demographics,
        canEdit: roleCan(tools.user, 'pds.update') && !demographics.restricted,
        updated: query.updated === '1',
      });
    });

    web.get<{ Params: NhsParams }>('/patient/:nhsNumber/edit', staff, async (req, reply) => {
      const tools = pageTools(ctx.client, req);
      mayUpdate(tools);
      const record = await loadPatient(tools, req.params.nhsNumber);
      return renderEdit(req, reply, 200, record, {
        values: editValuesOf(record.patient),
        etag: record.etag,
      });
    });

    web.post<{ Params: NhsParams }>('/patient/:nhsNumber/edit', staff, async (req, reply) => {
      const tools = pageTools(ctx.client, req);
      mayUpdate(tools);
      const nhs = req.params.nhsNumber;
      const values = readEditForm((name) => formField(req, name));
      const etag = formField(req, 'etag') ?? '';
      const current = await loadPatient(tools, nhs);
      if (confidentiality(current.patient) !== 'U')
        return renderEdit(req, reply, 403, current, { values, etag: current.etag });
      const base = !ETAG.test(etag)
        ? undefined
        : etag === current.etag
          ? current.patient
          : await versionOf(tools, nhs, etag);
      const conflict = async (latest: PatientRecord) => {
        const { values: again, yours } = reapply(base, latest.patient, values);
        return renderEdit(
          req,
          reply,
          409,
          latest,
          { values: again, etag: latest.etag },
          'pages/patients/conflict.njk',
          { changes: base ? changesBetween(base, latest.patient) : undefined, yours },
        );
      };
      if (!base) return conflict(current);
      const errorList = checkEdit(values, base);
      if (errorList.length)
        return renderEdit(req, reply, 400, current, { values, etag, errorList });
      const res = await tools.call({
        method: 'PATCH',
        url: `${API.pds}/Patient/${nhs}`,
        headers: { 'content-type': 'application/json-patch+json', 'if-match': etag },
        body: { patches: buildPatch(base, values) },
      });
      if (res.status === 200) return redirectTo(reply, `${recordTab(nhs)}?updated=1`);
      if (res.status === 409 || res.status === 412) return conflict(await loadPatient(tools, nhs));
      if (
        (res.status === 400 || res.status === 403) &&
        res.body?.resourceType === 'OperationOutcome'
      )
        return renderEdit(req, reply, 400, current, {
          values,
          etag,
          errorList: pdsEditErrors(res.body, values),
        });
      throw new ApiError(res);
    });
  };
}
