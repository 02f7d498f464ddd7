/**
 * The privacy alert an SCR application raises (the SCR API's POST /AuditEvent, in NHS England's
 * published alert vocabulary) when its user self-claims a legitimate relationship or uses
 * emergency access. The platform records its own security audit entry for each grant; the SCR
 * alert is what a conforming SCR client sends besides, so the SCR's alert reporting sees it too.
 */
import { NHS_NUMBER_SYSTEM, ODS_SYSTEM } from '../../fhir/identifiers.js';
import { EMERGENCY_REASONS } from '../../security/relationships.js';
import { API } from './api-paths.js';
import type { PageTools } from './web-page.js';

const NOTIFICATION_URL =
  'https://fhir.nhs.uk/StructureDefinition/Extension-SCR-NotificationMessage';
const SDS_USER_SYSTEM = 'https://fhir.nhs.uk/Id/sds-user-id';
/** NHS England's published SCR alert vocabulary (summary-care-record.yaml, POST /AuditEvent). */
const ALERT_TYPE_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/SCR-AlertType';
const ALERT_REASON_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/SCR-AlertReason';

export interface AlertFacts {
  nhsNumber: string;
  /** A self-claimed legitimate relationship, or emergency access. */
  kind: 'self-claim' | 'emergency-access';
  /** For emergency access: the reason code the user chose (EMERGENCY_REASONS). */
  reasonCode?: string;
  /** What the user wrote. */
  text: string;
  /** The grant or relationship the platform recorded (its id). */
  recordId?: string;
  /** Emergency access used after the patient refused permission to view. */
  overridesRefusal?: boolean;
}

/** The published alert type and reason for what happened (a permitted combination of the table). */
export function alertCodes(facts: AlertFacts): {
  type: [string, string];
  reason: [string, string];
} {
  if (facts.kind === 'self-claim')
    return { type: ['1', 'Create LR (Self Claimed)'], reason: ['6', 'Other'] };
  return {
    type: ['2', 'Access Alert'],
    reason:
      facts.reasonCode === 'public-interest'
        ? ['1', 'Access made in the public interest']
        : ['5', 'Access made in an emergency'],
  };
}

function message(facts: AlertFacts): string {
  if (facts.kind === 'self-claim') return 'Alert: Legitimate relationship self-claimed';
  const why = EMERGENCY_REASONS[facts.reasonCode ?? ''] ?? 'Emergency access';
  return facts.overridesRefusal
    ? `Alert: Permission to view override: ${why}`
    : `Alert: Emergency access: ${why}`;
}

/** The alert as the published AuditEvent, about this patient, from this user at their organisation. */
export function alertAuditEvent(
  user: { userId: string; org: string; role: string; roleName: string },
  facts: AlertFacts,
): Record<string, unknown> {
  const { type, reason } = alertCodes(facts);
  return {
    resourceType: 'AuditEvent',
    extension: [{ url: NOTIFICATION_URL, valueString: message(facts) }],
    type: { system: ALERT_TYPE_SYSTEM, code: type[0], display: type[1] },
    subtype: [{ system: ALERT_REASON_SYSTEM, code: reason[0], display: reason[1] }],
    outcomeDesc: facts.text.slice(0, 500),
    recorded: new Date().toISOString(),
    agent: [
      {
        who: { identifier: { system: NHS_NUMBER_SYSTEM, value: facts.nhsNumber } },
        requestor: false,
      },
      { who: { identifier: { system: ODS_SYSTEM, value: user.org } }, requestor: false },
      {
        who: { identifier: { system: SDS_USER_SYSTEM, value: user.userId } },
        role: [{ text: user.roleName, coding: [{ code: user.role }] }],
        requestor: false,
      },
    ],
    ...(facts.recordId ? { entity: [{ what: { identifier: { value: facts.recordId } } }] } : {}),
  };
}

/** Raises the alert through the SCR API as the signed-in user; a refusal becomes the error page. */
export async function raiseScrAlert(tools: PageTools, facts: AlertFacts): Promise<void> {
  await tools.expect({
    method: 'POST',
    url: `${API.scr}/AuditEvent`,
    body: alertAuditEvent(tools.user, facts),
  });
}
