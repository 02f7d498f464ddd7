import type { Task } from 'fhir/r4.js';
import { resourceType, type IndexEntry } from '../../store/resource-store.js';
import { NHS_NUMBER_SYSTEM, ODS_SYSTEM } from '../../fhir/identifiers.js';

/**
 * A GP2GP transfer is stored as a FHIR Task: `for` is the patient, `requester` the new practice,
 * `owner` the old practice that holds the record. Task.status says where the work is in FHIR terms
 * and businessStatus names the GP2GP state exactly (requested, sending, sent, integrated, failed).
 * What the service needs beyond core Task elements (notice attempts, the next deadline, the
 * attachment manifest and how much of it has arrived) travels in extensions, so one document is
 * both the state of the transfer and what the practices read.
 */

export const TASK = resourceType<Task>('Task');
export const EXT = 'https://openspine.dev/StructureDefinition';
export const BUSINESS_STATUS_SYSTEM = 'https://openspine.dev/CodeSystem/gp2gp-transfer-state';
export const FAILURE_REASON_SYSTEM = 'https://openspine.dev/CodeSystem/gp2gp-failure-reason';
export const TASK_CODE = {
  system: 'https://openspine.dev/CodeSystem/gp2gp-task',
  code: 'record-transfer',
  display: 'GP2GP electronic health record transfer',
} as const;
export const OUTPUT_SYSTEM = 'https://openspine.dev/CodeSystem/gp2gp-output';
export const EXT_ATTEMPTS = `${EXT}/gp2gp-request-attempts`;
export const EXT_DUE = `${EXT}/gp2gp-next-deadline`;
export const EXT_TRIGGER = `${EXT}/gp2gp-trigger`;
export const EXT_SHA256 = `${EXT}/attachment-sha256`;
export const EXT_CHUNK_SIZE = `${EXT}/attachment-chunk-size`;
export const EXT_CHUNK_COUNT = `${EXT}/attachment-chunk-count`;
export const EXT_CHUNKS_RECEIVED = `${EXT}/attachment-chunks-received`;

export type TransferState = 'requested' | 'sending' | 'sent' | 'integrated' | 'failed';

/** FHIR Task.status for each GP2GP state: sent and integrated are both 'completed', told apart by businessStatus. */
export const TASK_STATUS: Record<TransferState, Task['status']> = {
  requested: 'requested',
  sending: 'in-progress',
  sent: 'completed',
  integrated: 'completed',
  failed: 'failed',
};

/** One attachment of the record as the sender announced it, and how many of its chunks are in. */
export interface AttachmentManifest {
  id: string;
  contentType: string;
  size: number;
  /** Lower-case hex SHA-256 of the whole attachment. */
  sha256: string;
  chunkSize: number;
  chunkCount: number;
  received: number;
  title?: string;
}

export const odsIdentifier = (value: string) => ({ identifier: { system: ODS_SYSTEM, value } });

export function stateOf(task: Task): TransferState {
  return task.businessStatus!.coding![0].code as TransferState;
}
export const patientOf = (task: Task): string => task.for!.identifier!.value!;
export const ownerOf = (task: Task): string => task.owner!.identifier!.value!;
export const requesterOf = (task: Task): string => task.requester!.identifier!.value!;

function ext(task: Task, url: string) {
  return task.extension?.find((e) => e.url === url);
}
export const attemptsOf = (task: Task): number => ext(task, EXT_ATTEMPTS)?.valueInteger ?? 0;
export const deadlineOf = (task: Task): string | undefined => ext(task, EXT_DUE)?.valueDateTime;

/** A copy of the Task with an extension set (or removed when value is undefined). */
function withExtension(task: Task, url: string, value: Record<string, unknown> | undefined): Task {
  const rest = (task.extension ?? []).filter((e) => e.url !== url);
  return { ...task, extension: value ? [...rest, { url, ...value }] : rest };
}

export interface NewTransfer {
  id: string;
  nhsNumber: string;
  requester: string;
  owner: string;
  /** What started it: 'pds-gp-change:<event id>' or 'api'. */
  trigger: string;
  now: Date;
  deadline: Date;
}

export function newTransferTask(t: NewTransfer): Task {
  const time = t.now.toISOString();
  return {
    resourceType: 'Task',
    id: t.id,
    status: 'requested',
    intent: 'order',
    businessStatus: { coding: [{ system: BUSINESS_STATUS_SYSTEM, code: 'requested' }] },
    code: { coding: [{ ...TASK_CODE }] },
    for: { identifier: { system: NHS_NUMBER_SYSTEM, value: t.nhsNumber } },
    requester: odsIdentifier(t.requester),
    owner: odsIdentifier(t.owner),
    authoredOn: time,
    lastModified: time,
    extension: [
      { url: EXT_TRIGGER, valueString: t.trigger },
      { url: EXT_ATTEMPTS, valueInteger: 1 },
      { url: EXT_DUE, valueDateTime: t.deadline.toISOString() },
    ],
  };
}

/** The Task moved to a new state at `now`, with the next deadline (none in a state nothing waits on). */
export function moved(
  task: Task,
  state: TransferState,
  now: Date,
  deadline: Date | undefined,
  reason?: { code: string; text: string },
): Task {
  let next: Task = {
    ...task,
    status: TASK_STATUS[state],
    businessStatus: { coding: [{ system: BUSINESS_STATUS_SYSTEM, code: state }] },
    lastModified: now.toISOString(),
  };
  delete next.statusReason;
  if (reason)
    next.statusReason = {
      coding: [{ system: FAILURE_REASON_SYSTEM, code: reason.code }],
      text: reason.text,
    };
  next = withExtension(
    next,
    EXT_DUE,
    deadline ? { valueDateTime: deadline.toISOString() } : undefined,
  );
  return next;
}

export function withAttempts(task: Task, attempts: number): Task {
  return withExtension(task, EXT_ATTEMPTS, { valueInteger: attempts });
}

/** The attachments announced by $send, with their download addresses, as Task outputs. */
export function withManifest(task: Task, attachments: AttachmentManifest[], baseUrl: string): Task {
  const output: NonNullable<Task['output']> = [
    {
      type: {
        coding: [
          { system: OUTPUT_SYSTEM, code: 'ehr', display: 'Electronic health record Bundle' },
        ],
      },
      valueUrl: `${baseUrl}/Task/${task.id}/$ehr`,
    },
    ...attachments.map((a) => ({
      type: {
        coding: [{ system: OUTPUT_SYSTEM, code: 'attachment', display: 'Record attachment' }],
      },
      valueAttachment: {
        id: a.id,
        contentType: a.contentType,
        size: a.size,
        url: `${baseUrl}/Task/${task.id}/attachment/${a.id}`,
        ...(a.title ? { title: a.title } : {}),
        extension: [
          { url: EXT_SHA256, valueString: a.sha256 },
          { url: EXT_CHUNK_SIZE, valueInteger: a.chunkSize },
          { url: EXT_CHUNK_COUNT, valueInteger: a.chunkCount },
          { url: EXT_CHUNKS_RECEIVED, valueInteger: a.received },
        ],
      },
    })),
  ];
  return { ...task, output };
}

export function attachmentsOf(task: Task): AttachmentManifest[] {
  return (task.output ?? []).flatMap((o) => {
    const a = o.valueAttachment;
    if (!a) return [];
    const n = (url: string) => a.extension?.find((e) => e.url === url)?.valueInteger ?? 0;
    return [
      {
        id: a.id!,
        contentType: a.contentType!,
        size: a.size!,
        title: a.title,
        sha256: a.extension?.find((e) => e.url === EXT_SHA256)?.valueString ?? '',
        chunkSize: n(EXT_CHUNK_SIZE),
        chunkCount: n(EXT_CHUNK_COUNT),
        received: n(EXT_CHUNKS_RECEIVED),
      },
    ];
  });
}

/** Search index of a transfer. `due` exists only while something waits on a deadline (for the sweep). */
export function indexTask(task: Task): IndexEntry[] {
  const state = stateOf(task);
  const entries: IndexEntry[] = [
    { param: 'patient', value: patientOf(task) },
    { param: 'owner', value: ownerOf(task) },
    { param: 'requester', value: requesterOf(task) },
    { param: 'party', value: ownerOf(task) },
    { param: 'party', value: requesterOf(task) },
    { param: 'status', value: task.status },
    { param: 'business-status', value: state },
  ];
  if (state === 'requested' || state === 'sending')
    entries.push({ param: 'active', value: `${patientOf(task)}|${requesterOf(task)}` });
  const due = deadlineOf(task);
  if (due) entries.push({ param: 'due', value: due });
  return entries;
}
