import type { AuditEvent, AuditEventAgent, AuditEventEntity, Coding } from 'fhir/r4.js';
import { ACTIVITIES, isActivity, roleName } from '../security/policy.js';
import type { AuditEntry } from './types.js';
import { NHS_NUMBER_SYSTEM, ODS_SYSTEM } from '../fhir/identifiers.js';

/** Code systems of the FHIR rendering of audit entries; OpenSpine's own are documented in docs/security.md. */
export const AUDIT_EVENT_TYPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/audit-event-type';
export const OPENSPINE_AUDIT_TYPE_SYSTEM = 'https://openspine.dev/CodeSystem/audit-event-type';
export const ACTIVITY_SYSTEM = 'https://openspine.dev/CodeSystem/activity';
export const PURPOSE_SYSTEM = 'https://openspine.dev/CodeSystem/purpose-of-access';
export const ACT_REASON_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-ActReason';
export const JOB_ROLE_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/NHSDigital-SDS-JobRoleCode';
export const OPENSPINE_ROLE_SYSTEM = 'https://openspine.dev/CodeSystem/role';
export const USER_ID_SYSTEM = 'https://fhir.nhs.uk/Id/sds-user-id';
export const CLIENT_ID_SYSTEM = 'https://openspine.dev/Id/client-id';
export const REQUEST_ID_SYSTEM = 'https://openspine.dev/Id/request-id';
export const CORRELATION_ID_SYSTEM = 'https://openspine.dev/Id/correlation-id';

const OPENSPINE_TYPES: Record<string, string> = {
  'emergency-access': 'Emergency (break-glass) access',
  'self-claimed-relationship': 'Self-claimed legitimate relationship',
  security: 'Security event',
};

const PURPOSES: Record<string, { display: string; actReason?: [string, string] }> = {
  'direct-care': { display: 'Direct care', actReason: ['TREAT', 'treatment'] },
  'emergency-access': { display: 'Emergency access', actReason: ['ETREAT', 'Emergency Treatment'] },
  'self-claimed-relationship': {
    display: 'Direct care on a self-claimed relationship',
    actReason: ['TREAT', 'treatment'],
  },
};

/** Who is looking at the entries: a patient sees their own log, staff (privacy officers) the full entry. */
export type AuditView = 'staff' | 'patient';

/** The FHIR action code of an activity: Create, Read, Update, Delete or Execute (searches and operations). */
export function actionCode(action: string): 'C' | 'R' | 'U' | 'D' | 'E' {
  const verb = action.split('.').pop() ?? '';
  if (['read', 'view'].includes(verb)) return 'R';
  if (['create'].includes(verb)) return 'C';
  if (['update', 'merge', 'upload', 'patch'].includes(verb)) return 'U';
  if (['delete'].includes(verb)) return 'D';
  return 'E'; // searches, matches, replays, grants, claims and other operations
}

/** 0 success, 4 minor failure (refused, not found, too many matches), 8 serious failure (a server fault). */
export function outcomeCode(outcome: string): '0' | '4' | '8' {
  const refused = /^refused (\d{3})/.exec(outcome);
  if (refused) return Number(refused[1]) >= 500 ? '8' : '4';
  if (/^(failed|error)/.test(outcome)) return '8';
  if (['duplicate', 'too-many-matches', 'not-found'].includes(outcome)) return '4';
  return '0';
}

function eventType(type: string): Coding {
  if (type === 'patient-record')
    return { system: AUDIT_EVENT_TYPE_SYSTEM, code: 'rest', display: 'RESTful Operation' };
  return {
    system: OPENSPINE_AUDIT_TYPE_SYSTEM,
    code: type,
    ...(OPENSPINE_TYPES[type] ? { display: OPENSPINE_TYPES[type] } : {}),
  };
}

function activityCoding(action: string): Coding {
  const base = action.split('.').slice(0, 2).join('.');
  const display = isActivity(action)
    ? ACTIVITIES[action].name
    : isActivity(base)
      ? ACTIVITIES[base].name
      : undefined;
  return { system: ACTIVITY_SYSTEM, code: action, ...(display ? { display } : {}) };
}

function person(entry: AuditEntry, view: AuditView): AuditEventAgent {
  const r = entry.record;
  const kind = r.actorKind ?? 'user';
  // another patient who tried this record (and was refused) is not named to this one
  if (view === 'patient' && kind === 'patient' && r.userId !== r.patient) {
    return {
      type: { text: 'patient' },
      who: { display: 'Another NHS login user' },
      requestor: true,
    };
  }
  const system =
    kind === 'patient'
      ? NHS_NUMBER_SYSTEM
      : kind === 'application'
        ? CLIENT_ID_SYSTEM
        : USER_ID_SYSTEM;
  const role = r.role
    ? [
        {
          coding: [
            {
              system: /^R\d{4}$/.test(r.role) ? JOB_ROLE_SYSTEM : OPENSPINE_ROLE_SYSTEM,
              code: r.role,
              display: roleName(r.role),
            },
          ],
          text: roleName(r.role),
        },
      ]
    : undefined;
  return {
    type: {
      coding: [
        {
          system: 'http://terminology.hl7.org/CodeSystem/extra-security-role-type',
          code: kind === 'application' ? 'dataprocessor' : 'humanuser',
          display: kind === 'application' ? 'data processor' : 'human user',
        },
      ],
      text: kind,
    },
    who: {
      identifier: { system, value: r.userId },
      ...(r.userName ? { display: r.userName } : {}),
    },
    ...(role ? { role } : {}),
    requestor: true,
  };
}

function organisation(org: string): AuditEventAgent {
  return {
    type: {
      coding: [
        {
          system: 'http://terminology.hl7.org/CodeSystem/v3-RoleClass',
          code: 'PROV',
          display: 'healthcare provider',
        },
      ],
    },
    who: { identifier: { system: ODS_SYSTEM, value: org } },
    requestor: false,
  };
}

/** What a patient may see of an entry's detail: coded reasons only, never free text or other patients' numbers. */
const PATIENT_VISIBLE_DETAIL = new Set(['reasonCode']);

function details(entry: AuditEntry, view: AuditView): { type: string; valueString: string }[] {
  const detail = entry.record.detail ?? {};
  return Object.entries(detail)
    .filter(([k]) => view === 'staff' || PATIENT_VISIBLE_DETAIL.has(k))
    .map(([k, v]) => ({ type: k, valueString: typeof v === 'string' ? v : JSON.stringify(v) }));
}

/** One audit entry as a FHIR R4 AuditEvent; id is the entry's seq in the chain. */
export function toAuditEvent(entry: AuditEntry, view: AuditView): AuditEvent {
  const r = entry.record;
  const purpose = r.purpose ?? 'direct-care';
  const known = PURPOSES[purpose];
  const entities: AuditEventEntity[] = [];
  if (r.patient) {
    entities.push({
      what: { identifier: { system: NHS_NUMBER_SYSTEM, value: r.patient } },
      type: {
        system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type',
        code: '1',
        display: 'Person',
      },
      role: {
        system: 'http://terminology.hl7.org/CodeSystem/object-role',
        code: '1',
        display: 'Patient',
      },
    });
  }
  const detail = details(entry, view);
  entities.push({
    what: { identifier: { system: REQUEST_ID_SYSTEM, value: r.requestId } },
    type: {
      system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type',
      code: '2',
      display: 'System Object',
    },
    description: 'The request (X-Request-ID)',
    ...(detail.length ? { detail } : {}),
  });
  if (view === 'staff' && r.correlationId) {
    entities.push({
      what: { identifier: { system: CORRELATION_ID_SYSTEM, value: r.correlationId } },
      description: 'The correlation id (X-Correlation-ID)',
    });
  }
  return {
    resourceType: 'AuditEvent',
    id: String(entry.seq),
    type: eventType(r.type ?? 'patient-record'),
    subtype: [activityCoding(r.action)],
    action: actionCode(r.action),
    recorded: r.time,
    outcome: outcomeCode(r.outcome),
    outcomeDesc: r.outcome,
    purposeOfEvent: [
      {
        coding: [
          { system: PURPOSE_SYSTEM, code: purpose, ...(known ? { display: known.display } : {}) },
          ...(known?.actReason
            ? [{ system: ACT_REASON_SYSTEM, code: known.actReason[0], display: known.actReason[1] }]
            : []),
        ],
        text: known?.display ?? purpose,
      },
    ],
    agent: [person(entry, view), ...(r.org ? [organisation(r.org)] : [])],
    source: {
      observer: { display: 'OpenSpine' },
      type: [
        {
          system: 'http://terminology.hl7.org/CodeSystem/security-source-type',
          code: '4',
          display: 'Application Server',
        },
      ],
    },
    entity: entities,
  };
}
