/**
 * $ers.generateCRI on an advice and guidance request (a043): a PDF overview of the request and its
 * whole conversation, for either party, named `<ubrn>_Advice_And_Guidance_<yyyyMMddHHmmss>.pdf` as
 * published. Drawn by the referral's own PDF writer (letter-pdf.ts), a restricted patient's location
 * values withheld; the read is audited.
 */
import { auditRecord } from '../../audit/audit-record.js';
import type { RequestContext } from '../../context.js';
import type { StoredResource } from '../../store/resource-store.js';
import { HEALTHCARE_SERVICE } from '../directory/index.js';
import { currentPatient } from '../pds/index.js';
import { visibleAdvice } from './advice-access.js';
import {
  ADVICE_MESSAGE,
  advicePatientOf,
  advicePriorityOf,
  adviceProviderOf,
  adviceReferrerOf,
  adviceServiceOf,
  adviceStateOf,
  conversionOf,
  firstRequestedOf,
  messageCountOf,
  messageId,
  SPECIALTY_URL,
  type AdviceMessage,
  type AdviceRequest,
} from './advice-model.js';
import { requirePublishedFunction } from './advice-rules.js';
import type { AdviceService } from './advice-service.js';
import {
  fileStamp,
  releasedFor,
  renderPdf,
  type PdfDocumentSpec,
  type PdfSection,
} from './letter-pdf.js';
import type { ErsCaller } from './referral-rules.js';

export interface AdviceOverview {
  pdf: Buffer;
  fileName: string;
}

/** a043: the overview PDF of a request the caller's organisation is a party to. */
export async function adviceOverviewPdf(
  service: AdviceService,
  ctx: RequestContext,
  caller: ErsCaller,
  ubrn: string,
): Promise<AdviceOverview> {
  requirePublishedFunction(caller, 'read');
  const request = await visibleAdvice(service, ctx, caller.ods, ubrn, 'ers.advice.overview', [
    'referrer',
    'provider',
  ]);
  const ids = Array.from({ length: messageCountOf(request.resource) }, (_, i) =>
    messageId(ubrn, i + 1),
  );
  const byId = new Map((await service.store.readMany(ADVICE_MESSAGE, ids)).map((m) => [m.id, m]));
  const messages = ids.map((id) => byId.get(id)).filter((m) => m !== undefined);
  const serviceId = adviceServiceOf(request.resource);
  const directory = await service.store.read(HEALTHCARE_SERVICE, serviceId);
  // the patient's PDS record decides what of the document may be printed (a restricted patient's
  // GP practice, as the referrer or a sender's organisation, is withheld)
  const patient = await currentPatient(service.store, advicePatientOf(request.resource));
  const now = service.now();
  const pdf = await renderPdf(
    releasedFor(
      overviewDocument(request, messages, directory?.resource.name ?? serviceId, now),
      patient?.resource,
    ),
  );
  await service.audit.append(
    auditRecord(ctx, 'ers.advice.overview', advicePatientOf(request.resource), 'success', {
      ubrn,
      version: request.version,
      messages: messages.length,
    }),
  );
  return { pdf, fileName: `${ubrn}_Advice_And_Guidance_${fileStamp(now)}.pdf` };
}

/** Who sent a message: the PractitionerRole it names as sender (user, organisation, function). */
function senderOf(m: AdviceMessage): string {
  const ref = (m.sender.extension as { valueReference?: { reference?: string } }[] | undefined)?.[0]
    ?.valueReference?.reference;
  const role = m.contained?.find((c) => `#${c.id}` === ref);
  if (!role) return 'unknown';
  const fn = role.code?.[0]?.coding?.[0]?.code ?? '';
  return `${role.practitioner?.identifier?.value} at ${role.organization?.identifier?.value} (${fn})`;
}

function messageSection(stored: StoredResource<AdviceMessage>, n: number): PdfSection {
  const m = stored.resource;
  const files = (m.contained ?? []).filter((c) => c.resourceType === 'DocumentReference');
  return {
    heading: `Message ${n}: ${m.category[0].coding[0].code === 'REQUESTER' ? 'from the referrer' : 'from the provider'}`,
    lines: [
      { label: 'Sent', value: m.sent },
      { label: 'By', value: senderOf(m) },
      { value: m.note[0]?.text ?? '' },
      ...files.map((d) => ({
        label: 'Attachment',
        value: `${d.content?.[0]?.attachment?.title ?? d.content?.[0]?.attachment?.url} (${d.description ?? 'no description'})`,
      })),
    ],
  };
}

export function overviewDocument(
  stored: StoredResource<AdviceRequest>,
  messages: StoredResource<AdviceMessage>[],
  serviceName: string,
  now: Date,
): PdfDocumentSpec {
  const r = stored.resource;
  const specialty = r.extension.find((e) => e.url === SPECIALTY_URL)?.valueCoding as
    { code?: string } | undefined;
  return {
    title: 'Advice and Guidance Overview',
    subject: `Advice and guidance ${r.id}`,
    created: now,
    sections: [
      {
        heading: 'Advice and guidance request',
        lines: [
          { label: 'UBRN', value: r.id },
          { label: 'Status', value: adviceStateOf(r) },
          { label: 'Request version', value: String(stored.version) },
          { label: 'Priority', value: advicePriorityOf(r) },
          { label: 'Specialty', value: specialty?.code ?? 'Not given' },
          { label: 'Service', value: `${serviceName} (${adviceServiceOf(r)})` },
          { label: 'Provider (ODS)', value: adviceProviderOf(r) },
          { label: 'Referring organisation (ODS)', value: adviceReferrerOf(r) },
          { label: 'Provider may convert to a referral', value: conversionOf(r) },
          { label: 'First requested', value: firstRequestedOf(r) ?? 'Not known' },
        ],
      },
      { heading: 'Patient', lines: [{ label: 'NHS Number', value: advicePatientOf(r) }] },
      ...messages.map((m, i) => messageSection(m, i + 1)),
    ],
  };
}
