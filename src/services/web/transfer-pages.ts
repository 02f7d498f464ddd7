/**
 * GP2GP transfers of a patient's record, under the patient's record (staff with gp2gp.transfer):
 * the transfers the user's practice is a party to (GET /Task?patient=, docs/gp2gp.md), each with
 * its state in words, and one transfer in detail. The API shows a practice only its own transfers.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { API } from './api-paths.js';
import { roleCan } from './navigation.js';
import { WEB_BASE } from './paths.js';
import { loadPatient } from './patient-record.js';
import { ApiError } from './platform-client.js';
import { organisationNames } from './prescription-view.js';
import type { WebContext } from './web-context.js';
import { NHS_NUMBER_PARAMS, pageTools, renderPage, userOf } from './web-page.js';

const STAFF = { public: true, webAudience: 'staff' } as const;
const TEMPLATES = 'pages/transfers';

type State = 'requested' | 'sending' | 'sent' | 'integrated' | 'failed';

const STATES: Record<State, { label: string; colour: string }> = {
  requested: { label: 'Requested', colour: 'blue' },
  sending: { label: 'Sending', colour: 'purple' },
  sent: { label: 'Sent, awaiting acknowledgement', colour: 'yellow' },
  integrated: { label: 'Integrated', colour: 'green' },
  failed: { label: 'Failed', colour: 'red' },
};

export interface AttachmentView {
  id: string;
  title: string;
  contentType: string;
  size: string;
  received: number;
  chunks: number;
}

export interface TransferView {
  id: string;
  nhsNumber: string;
  state: { code: string; label: string; colour: string };
  meaning: string;
  requester: string;
  owner: string;
  started: string;
  updated: string;
  reason?: string;
  trigger: string;
  attempts?: number;
  deadline?: string;
  attachments: AttachmentView[];
  /** The signed-in practice's part: it asked for the record, or it holds and sends it. */
  yourPart?: 'new practice' | 'old practice';
}

const ext = (list: any, suffix: string): any =>
  (Array.isArray(list) ? list : []).find((e) => String(e?.url).endsWith(suffix));

function bytes(n: unknown): string {
  const v = Number(n);
  if (!Number.isFinite(v)) return 'Not known';
  if (v >= 1024 * 1024) return `${(v / (1024 * 1024)).toFixed(1)} MB`;
  if (v >= 1024) return `${(v / 1024).toFixed(1)} KB`;
  return `${v} bytes`;
}

function meaningOf(t: Omit<TransferView, 'meaning'>, names: Record<string, string>): string {
  const name = (code: string) => (names[code] ? `${names[code]} (${code})` : code);
  const chunks = t.attachments.reduce((s, a) => s + a.chunks, 0);
  const received = t.attachments.reduce((s, a) => s + a.received, 0);
  switch (t.state.code) {
    case 'requested':
      return `Waiting for the old practice, ${name(t.owner)}, to send the record.${
        (t.attempts ?? 1) > 1 ? ` The request has been sent ${t.attempts} times.` : ''
      }`;
    case 'sending':
      return `${name(t.owner)} has sent the record. Its attachments are still arriving: ${received} of ${chunks} parts so far.`;
    case 'sent':
      return `The whole record has arrived and every checksum matched. Waiting for the new practice, ${name(t.requester)}, to confirm it has integrated the record.`;
    case 'integrated':
      return `The new practice, ${name(t.requester)}, has integrated the record. The transfer is complete.`;
    case 'failed':
      return `The transfer failed.${t.reason ? ` ${/[.!]$/.test(t.reason) ? t.reason : `${t.reason}.`}` : ''} The new practice can ask for the record again.`;
    default:
      return 'The state of this transfer is not known.';
  }
}

/** A GP2GP Task as the pages show it (names: ODS code to name, for the sentences). */
export function transferOf(
  task: any,
  org: string,
  names: Record<string, string> = {},
): TransferView {
  const code = String(task?.businessStatus?.coding?.[0]?.code ?? 'unknown');
  const known = STATES[code as State];
  const requester = String(task?.requester?.identifier?.value ?? '');
  const owner = String(task?.owner?.identifier?.value ?? '');
  const trigger = String(ext(task?.extension, 'gp2gp-trigger')?.valueString ?? '');
  const attempts = ext(task?.extension, 'gp2gp-request-attempts')?.valueInteger;
  const deadline = ext(task?.extension, 'gp2gp-next-deadline')?.valueDateTime;
  const attachments: AttachmentView[] = (Array.isArray(task?.output) ? task.output : [])
    .map((o: any) => o?.valueAttachment)
    .filter((a: any) => a && a.id)
    .map((a: any) => ({
      id: String(a.id),
      title: String(a.title ?? a.id),
      contentType: String(a.contentType ?? ''),
      size: bytes(a.size),
      received: Number(ext(a.extension, 'attachment-chunks-received')?.valueInteger ?? 0),
      chunks: Number(ext(a.extension, 'attachment-chunk-count')?.valueInteger ?? 0),
    }));
  const view: Omit<TransferView, 'meaning'> = {
    id: String(task?.id ?? ''),
    nhsNumber: String(task?.for?.identifier?.value ?? ''),
    state: { code, ...(known ?? { label: code, colour: 'grey' }) },
    requester,
    owner,
    started: String(task?.authoredOn ?? ''),
    updated: String(task?.lastModified ?? task?.authoredOn ?? ''),
    ...(task?.statusReason
      ? { reason: String(task.statusReason.text ?? task.statusReason.coding?.[0]?.code) }
      : {}),
    trigger: trigger.startsWith('pds-gp-change')
      ? 'The patient registered with the new practice on PDS'
      : 'The new practice asked for the record',
    ...(typeof attempts === 'number' ? { attempts } : {}),
    ...(deadline ? { deadline: String(deadline) } : {}),
    attachments,
    ...(org && org === requester
      ? { yourPart: 'new practice' as const }
      : org && org === owner
        ? { yourPart: 'old practice' as const }
        : {}),
  };
  return { ...view, meaning: meaningOf(view, names) };
}

function requireTransfers(req: FastifyRequest): void {
  if (!roleCan(userOf(req), 'gp2gp.transfer'))
    throw Object.assign(new Error('your role cannot see record transfers'), { statusCode: 403 });
}

export function transferPages(ctx: WebContext) {
  return async function plugin(web: FastifyInstance): Promise<void> {
    web.get<{ Params: { nhsNumber: string } }>(
      '/patient/:nhsNumber/transfers',
      { config: STAFF, schema: NHS_NUMBER_PARAMS },
      async (req, reply) => {
        requireTransfers(req);
        const nhs = req.params.nhsNumber;
        const tools = pageTools(ctx.client, req);
        const record = await loadPatient(tools, nhs);
        const res = await tools.expect({
          url: `${API.gp2gp}/Task?patient=${encodeURIComponent(nhs)}&_count=100`,
        });
        const tasks: any[] = (Array.isArray(res.body?.entry) ? res.body.entry : [])
          .map((e: any) => e.resource)
          .filter((t: any) => t?.resourceType === 'Task');
        const names = await organisationNames(
          tools,
          tasks.flatMap((t) => [t.requester?.identifier?.value, t.owner?.identifier?.value]),
        );
        const transfers = tasks
          .map((t) => transferOf(t, tools.user.org, names))
          .sort((a, b) => b.started.localeCompare(a.started));
        return renderPage(req, reply, 200, `${TEMPLATES}/list.njk`, {
          title: 'GP2GP transfers',
          patient: record.banner,
          activeTab: `${WEB_BASE}/patient/${nhs}/transfers`,
          transfers,
          orgNames: names,
        });
      },
    );

    web.get<{ Params: { nhsNumber: string; id: string } }>(
      '/patient/:nhsNumber/transfers/:id',
      {
        config: STAFF,
        schema: {
          params: {
            type: 'object',
            properties: {
              ...NHS_NUMBER_PARAMS.params.properties,
              id: { type: 'string', pattern: '^[A-Za-z0-9\\-.]{1,64}$' },
            },
            required: ['nhsNumber', 'id'],
          },
        },
      },
      async (req, reply) => {
        requireTransfers(req);
        const { nhsNumber: nhs, id } = req.params;
        const tools = pageTools(ctx.client, req);
        const record = await loadPatient(tools, nhs);
        const data = {
          title: 'GP2GP transfer',
          patient: record.banner,
          activeTab: `${WEB_BASE}/patient/${nhs}/transfers`,
          nhsNumber: nhs,
        };
        const res = await tools.call({ url: `${API.gp2gp}/Task/${encodeURIComponent(id)}` });
        // a transfer of another patient, or one the practice is no party to, is not found here
        if (res.status === 404 || (res.status === 200 && res.body?.for?.identifier?.value !== nhs))
          return renderPage(req, reply, 404, `${TEMPLATES}/detail.njk`, {
            ...data,
            notFound: true,
          });
        if (res.status !== 200) throw new ApiError(res);
        const task = res.body;
        const names = await organisationNames(tools, [
          task.requester?.identifier?.value,
          task.owner?.identifier?.value,
        ]);
        return renderPage(req, reply, 200, `${TEMPLATES}/detail.njk`, {
          ...data,
          transfer: transferOf(task, tools.user.org, names),
          orgNames: names,
        });
      },
    );
  };
}
