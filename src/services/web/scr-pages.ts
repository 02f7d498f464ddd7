/**
 * The Summary Care Record journey for staff: /patient/:nhsNumber/scr. The page reads the SCR API
 * as the signed-in clinician and shows what it answers: the record, or why it is not shown and
 * what can be done. Without a legitimate relationship the clinician may self-claim one or use
 * emergency access (each raising a privacy alert); with one, the patient's permission to view is
 * asked and recorded through the API ($setPermission) before any clinical content is shown.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { NHS_NUMBER_SYSTEM } from '../../fhir/identifiers.js';
import { EMERGENCY_REASONS } from '../../security/relationships.js';
import { API } from './api-paths.js';
import { loadPatient } from './patient-record.js';
import { WEB_BASE } from './paths.js';
import { ApiError } from './platform-client.js';
import { raiseScrAlert } from './scr-alerts.js';
import { scrRecordView, type ScrRecordView } from './scr-record-view.js';
import type { WebContext } from './web-context.js';
import { outcomeMessages } from './web-errors.js';
import {
  formField,
  NHS_NUMBER_PARAMS,
  pageTools,
  redirectTo,
  renderPage,
  type PageTools,
} from './web-page.js';

/** What the SCR API's answers mean for the page. */
export type ScrState =
  'view' | 'no-record' | 'dissent' | 'no-relationship' | 'ask-permission' | 'permission-refused';

/** The states whose page carries forms, which a form with mistakes is shown again in. */
const FORM_STATES: readonly ScrState[] = [
  'no-relationship',
  'ask-permission',
  'permission-refused',
];
const PERMISSION_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/SCR-ACSPermission';
const MAX_TEXT = 1000;
/** What a successful action says on the page it leads to (?done=...: no patient data). */
const DONE: Record<string, string> = {
  claimed:
    'Your self-claimed legitimate relationship with this patient has been recorded, and a privacy alert raised.',
  'emergency-access':
    'Emergency access has been granted for 60 minutes, and a privacy alert raised.',
  permission: "The patient's permission to view has been recorded for this session.",
};

interface ScrAnswer {
  state: ScrState;
  record?: ScrRecordView;
  /** The DocumentReference of the current summary: when it was uploaded and by whom. */
  uploaded?: string;
  author?: string;
}

type Params = { nhsNumber: string };

const refusal = (res: { status: number; body: unknown }) =>
  res.status === 403 || res.status === 404 ? outcomeMessages(res.body).code : undefined;

/**
 * Asks the SCR API: the current summary's DocumentReference (needs a legitimate relationship, and
 * says whether there is a record at all), then that version (needs the patient's permission to view
 * or emergency access). Each refusal's code says which state the page is in.
 */
export async function readScr(tools: PageTools, nhs: string): Promise<ScrAnswer> {
  const patient = encodeURIComponent(`${NHS_NUMBER_SYSTEM}|${nhs}`);
  const refs = await tools.call({
    url: `${API.scr}/DocumentReference?patient=${patient}&_sort=date&_count=1`,
  });
  const refused = refusal(refs);
  if (refused === 'NO_LEGITIMATE_RELATIONSHIP') return { state: 'no-relationship' };
  if (refused === 'SCR_DISSENT') return { state: 'dissent' };
  if (refs.status !== 200) throw new ApiError(refs);
  const ref = (refs.body?.entry ?? [])
    .map((e: any) => e?.resource)
    .find((r: any) => r?.resourceType === 'DocumentReference');
  if (!ref) return { state: 'no-record' };
  const facts = { uploaded: ref.date, author: ref.author?.[0]?.identifier?.value };
  const read = await tools.call({
    url: `${API.scr}/Bundle/${encodeURIComponent(ref.id)}?patient=${nhs}`,
  });
  const code = refusal(read);
  if (code === 'SCR_PERMISSION_REQUIRED') return { state: 'ask-permission', ...facts };
  if (code === 'SCR_PERMISSION_REFUSED') return { state: 'permission-refused', ...facts };
  if (code === 'NO_LEGITIMATE_RELATIONSHIP') return { state: 'no-relationship' };
  if (code === 'SCR_DISSENT') return { state: 'dissent' };
  if (read.status !== 200) throw new ApiError(read);
  return { state: 'view', record: scrRecordView(read.body), ...facts };
}

interface FormProblem {
  errorList: { text: string; href: string }[];
  errors: Record<string, { text: string }>;
  values: Record<string, string | undefined>;
}

async function showScr(
  req: FastifyRequest,
  reply: FastifyReply,
  ctx: WebContext,
  opts: { status?: number; state?: ScrState; problem?: FormProblem } = {},
): Promise<FastifyReply> {
  const tools = pageTools(ctx.client, req);
  const nhs = (req.params as Params).nhsNumber;
  const record = await loadPatient(tools, nhs);
  const answer: ScrAnswer = opts.state ? { state: opts.state } : await readScr(tools, nhs);
  const done = (req.query as Record<string, unknown> | undefined)?.done;
  const base = `${WEB_BASE}/patient/${nhs}/scr`;
  return renderPage(req, reply, opts.status ?? 200, 'pages/scr/scr.njk', {
    title: 'Summary Care Record',
    patient: record.banner,
    activeTab: base,
    ...answer,
    formAction: base,
    done: typeof done === 'string' ? DONE[done] : undefined,
    reasons: Object.entries(EMERGENCY_REASONS).map(([value, text]) => ({ value, text })),
    errorList: opts.problem?.errorList ?? [],
    errors: opts.problem?.errors ?? {},
    values: opts.problem?.values ?? {},
  });
}

/** The state the form was posted from, to show its page again with the mistakes marked. */
function postedState(req: FastifyRequest): ScrState {
  const state = formField(req, 'state') as ScrState | undefined;
  return state && FORM_STATES.includes(state) ? state : 'no-relationship';
}

function problem(
  fields: { id: string; text: string | undefined }[],
  values: FormProblem['values'],
): FormProblem | null {
  const found = fields.filter((f): f is { id: string; text: string } => !!f.text);
  if (found.length === 0) return null;
  return {
    errorList: found.map((f) => ({ text: f.text, href: `#${f.id}` })),
    errors: Object.fromEntries(found.map((f) => [f.id, { text: f.text }])),
    values,
  };
}

const textProblem = (value: string | undefined, missing: string) =>
  !value
    ? missing
    : value.length > MAX_TEXT
      ? `Reason must be ${MAX_TEXT} characters or fewer`
      : undefined;

export function scrPages(ctx: WebContext) {
  return async function plugin(web: FastifyInstance): Promise<void> {
    const staff = { public: true, webAudience: 'staff' } as const;
    const done = (reply: FastifyReply, nhs: string, what: string) =>
      redirectTo(reply, `${WEB_BASE}/patient/${nhs}/scr?done=${what}`);

    web.get<{ Params: Params }>(
      '/patient/:nhsNumber/scr',
      { schema: NHS_NUMBER_PARAMS, config: staff },
      async (req, reply) => showScr(req, reply, ctx),
    );

    // the patient's answer to "may I view your Summary Care Record?", recorded through the API
    web.post<{ Params: Params }>(
      '/patient/:nhsNumber/scr/permission',
      { schema: NHS_NUMBER_PARAMS, config: staff },
      async (req, reply) => {
        const nhs = req.params.nhsNumber;
        const answer = formField(req, 'permission');
        if (answer !== 'yes' && answer !== 'no') {
          const p = problem(
            [
              {
                id: 'permission',
                text: 'Select whether the patient gives permission to view their Summary Care Record',
              },
            ],
            {},
          );
          return showScr(req, reply, ctx, { status: 400, state: 'ask-permission', problem: p! });
        }
        const tools = pageTools(ctx.client, req);
        await tools.expect({
          method: 'POST',
          url: `${API.scr}/$setPermission`,
          body: {
            resourceType: 'Parameters',
            parameter: [
              {
                name: 'setPermissions',
                part: [
                  { name: 'nhsNumber', valueString: nhs },
                  {
                    name: 'permissionCode',
                    valueCoding: {
                      system: PERMISSION_SYSTEM,
                      code: answer === 'yes' ? 'Yes' : 'No',
                    },
                  },
                ],
              },
            ],
          },
        });
        return answer === 'yes'
          ? done(reply, nhs, 'permission')
          : redirectTo(reply, `${WEB_BASE}/patient/${nhs}/scr`);
      },
    );

    web.post<{ Params: Params }>(
      '/patient/:nhsNumber/scr/claim-relationship',
      { schema: NHS_NUMBER_PARAMS, config: staff },
      async (req, reply) => {
        const nhs = req.params.nhsNumber;
        const reason = formField(req, 'claimReason');
        const p = problem(
          [
            {
              id: 'claimReason',
              text: textProblem(
                reason,
                'Enter why you have a legitimate relationship with this patient',
              ),
            },
          ],
          { claimReason: reason },
        );
        if (p)
          return showScr(req, reply, ctx, { status: 400, state: postedState(req), problem: p });
        const tools = pageTools(ctx.client, req);
        const res = await tools.expect({
          method: 'POST',
          url: `${API.security}/$claim-relationship`,
          body: {
            resourceType: 'Parameters',
            parameter: [
              { name: 'patient', valueIdentifier: { system: NHS_NUMBER_SYSTEM, value: nhs } },
              { name: 'reason', valueString: reason },
            ],
          },
        });
        await raiseScrAlert(tools, {
          nhsNumber: nhs,
          kind: 'self-claim',
          text: reason!,
          recordId: parameter(res.body, 'relationship'),
        });
        return done(reply, nhs, 'claimed');
      },
    );

    web.post<{ Params: Params }>(
      '/patient/:nhsNumber/scr/emergency-access',
      { schema: NHS_NUMBER_PARAMS, config: staff },
      async (req, reply) => {
        const nhs = req.params.nhsNumber;
        const reasonCode = formField(req, 'reasonCode');
        const reasonText = formField(req, 'reasonText');
        const p = problem(
          [
            {
              id: 'reasonCode',
              text:
                reasonCode && Object.hasOwn(EMERGENCY_REASONS, reasonCode)
                  ? undefined
                  : 'Select the reason you need emergency access',
            },
            {
              id: 'reasonText',
              text: textProblem(reasonText, 'Enter the details of why you need emergency access'),
            },
          ],
          { reasonCode, reasonText },
        );
        const state = postedState(req);
        if (p) return showScr(req, reply, ctx, { status: 400, state, problem: p });
        const tools = pageTools(ctx.client, req);
        const res = await tools.expect({
          method: 'POST',
          url: `${API.security}/$emergency-access`,
          body: {
            resourceType: 'Parameters',
            parameter: [
              { name: 'patient', valueIdentifier: { system: NHS_NUMBER_SYSTEM, value: nhs } },
              { name: 'reasonCode', valueCode: reasonCode },
              { name: 'reasonText', valueString: reasonText },
            ],
          },
        });
        await raiseScrAlert(tools, {
          nhsNumber: nhs,
          kind: 'emergency-access',
          reasonCode,
          text: reasonText!,
          recordId: parameter(res.body, 'grant'),
          overridesRefusal: state === 'permission-refused',
        });
        return done(reply, nhs, 'emergency-access');
      },
    );
  };
}

/** A Parameters answer's value by name (valueId, valueString or valueCode). */
function parameter(body: any, name: string): string | undefined {
  const p = (Array.isArray(body?.parameter) ? body.parameter : []).find(
    (x: any) => x?.name === name,
  );
  const v = p?.valueId ?? p?.valueString ?? p?.valueCode;
  return typeof v === 'string' ? v : undefined;
}
