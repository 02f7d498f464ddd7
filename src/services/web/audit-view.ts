/**
 * AuditEvents from the platform's audit search (the staff view) as the privacy pages show them:
 * who, when, which patient, what, the outcome, the basis of access, and the stated reason.
 */
import { EMERGENCY_REASONS } from '../../security/relationships.js';

type Json = Record<string, any>;

const NHS_NUMBER_SYSTEM = 'https://fhir.nhs.uk/Id/nhs-number';
const ODS_SYSTEM = 'https://fhir.nhs.uk/Id/ods-organization-code';

/** The platform's access bases (src/security/relationships.ts) in words. */
const BASES: Record<string, string> = {
  'registered-gp': 'registered GP practice',
  referral: 'referral',
  'care-episode': 'care episode',
  prescription: 'prescription',
  'self-claimed': 'self-claimed relationship',
  'emergency-access': 'emergency access',
  'own-record': "the patient's own record",
};

export interface AuditRow {
  id: string;
  when: string;
  who: string;
  userId?: string;
  role?: string;
  org?: string;
  patient?: string;
  what: string;
  outcome: string;
  refused: boolean;
  /** The purpose of access, with the relationship it rested on when the entry names one. */
  basis: string;
  emergency: boolean;
  /** The reason the person stated (emergency access, a self-claimed relationship, an SCR alert). */
  reason?: string;
  /** For the alert list: emergency access or a self-claimed relationship. */
  kind?: string;
}

function details(event: Json): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entity of Array.isArray(event.entity) ? event.entity : [])
    for (const d of Array.isArray(entity?.detail) ? entity.detail : [])
      if (typeof d?.type === 'string' && typeof d.valueString === 'string')
        out[d.type] = d.valueString;
  return out;
}

function reasonOf(d: Record<string, string>): string | undefined {
  if (d.reasonText || (d.reasonCode && EMERGENCY_REASONS[d.reasonCode])) {
    const code = EMERGENCY_REASONS[d.reasonCode] ?? d.reasonCode;
    return [code, d.reasonText].filter(Boolean).join(': ');
  }
  if (d.reason) return d.reason;
  // an SCR privacy alert: its published reason and what the user wrote
  if (d.alertReason)
    return [d.alertType?.replace(/^\d+ /, ''), d.alertReason.replace(/^\d+ /, ''), d.description]
      .filter(Boolean)
      .join(': ');
  return undefined;
}

function outcomeText(outcome: string): { text: string; refused: boolean } {
  const refused = /^refused (\d{3}) ?(.*)$/.exec(outcome);
  if (refused)
    return {
      text: `Refused${refused[2] ? ` (${refused[2]})` : ` (${refused[1]})`}`,
      refused: true,
    };
  const words = outcome.replace(/-/g, ' ');
  return { text: words.charAt(0).toUpperCase() + words.slice(1), refused: false };
}

/** One AuditEvent of the staff view as a row. */
export function auditRow(event: Json): AuditRow {
  const agents: Json[] = Array.isArray(event.agent) ? event.agent : [];
  const person = agents.find((a) => a?.requestor === true) ?? agents[0];
  const org = agents.find((a) => a?.who?.identifier?.system === ODS_SYSTEM);
  const patient = (Array.isArray(event.entity) ? event.entity : []).find(
    (e: Json) => e?.what?.identifier?.system === NHS_NUMBER_SYSTEM,
  );
  const d = details(event);
  const purpose = event.purposeOfEvent?.[0];
  const purposeCode: string | undefined = purpose?.coding?.[0]?.code;
  const basisWords = d.accessBasis ? (BASES[d.accessBasis] ?? d.accessBasis) : undefined;
  const purposeText: string = purpose?.text ?? 'Not stated';
  const outcome = outcomeText(String(event.outcomeDesc ?? ''));
  const activity = event.subtype?.[0];
  return {
    id: String(event.id),
    when: String(event.recorded ?? ''),
    who: person?.who?.display ?? person?.who?.identifier?.value ?? 'Not known',
    userId: person?.who?.identifier?.value,
    role: person?.role?.[0]?.text,
    org: org?.who?.identifier?.value,
    patient: patient?.what?.identifier?.value,
    what: activity?.display ?? activity?.code ?? 'Not known',
    outcome: outcome.text,
    refused: outcome.refused,
    basis:
      basisWords && !purposeText.toLowerCase().includes(basisWords)
        ? `${purposeText} (${basisWords})`
        : purposeText,
    emergency: purposeCode === 'emergency-access' || d.accessBasis === 'emergency-access',
    reason: reasonOf(d),
    kind: event.type?.display,
  };
}

/** The entries of a searchset Bundle as rows, and the cursor of its next page (from its next link). */
export function auditPage(bundle: Json): { rows: AuditRow[]; next?: string; total?: number } {
  const rows = (Array.isArray(bundle?.entry) ? bundle.entry : [])
    .map((e: Json) => e?.resource)
    .filter((r: Json | undefined) => r?.resourceType === 'AuditEvent')
    .map(auditRow);
  const next = (Array.isArray(bundle?.link) ? bundle.link : []).find(
    (l: Json) => l?.relation === 'next',
  )?.url;
  const cursor = typeof next === 'string' ? new URL(next).searchParams.get('_cursor') : null;
  return {
    rows,
    ...(cursor ? { next: cursor } : {}),
    ...(typeof bundle?.total === 'number' ? { total: bundle.total } : {}),
  };
}

/** A cursor from a next link (entry.snapshot), or undefined for anything else. */
export function cursorParam(value: unknown): string | undefined {
  return typeof value === 'string' && /^\d{1,15}\.\d{1,15}$/.test(value) ? value : undefined;
}
