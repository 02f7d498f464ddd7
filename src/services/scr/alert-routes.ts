import type { FastifyInstance } from 'fastify';
import { FhirError } from '../../fhir/errors.js';
import { isValidNhsNumber } from '../../fhir/nhs-number.js';
import { FHIR_JSON } from '../../fhir/media-types.js';
import type { ResourceStore } from '../../store/resource-store.js';
import { raiseAlert } from './alert-service.js';
import { NHS_NUMBER_SYSTEM, ODS_SYSTEM } from '../../fhir/identifiers.js';

/** NHS England's published SCR alert vocabulary (summary-care-record.yaml, POST /AuditEvent). */
export const ALERT_TYPE_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/SCR-AlertType';
export const ALERT_REASON_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/SCR-AlertReason';
const NOTIFICATION_URL =
  'https://fhir.nhs.uk/StructureDefinition/Extension-SCR-NotificationMessage';
const SDS_USER_SYSTEM = 'https://fhir.nhs.uk/Id/sds-user-id';
const ALERT_TYPES: Record<string, string> = { 1: 'Create LR (Self Claimed)', 2: 'Access Alert' };
const ALERT_REASONS: Record<string, string> = {
  1: 'Access made in the public interest',
  2: 'Access required by statute',
  3: 'Access required by Court Order',
  4: 'Self-Claim Emergency Access',
  5: 'Access made in an emergency',
  6: 'Other',
};
/** The combinations the published table marks "not a permitted combination". */
const NOT_PERMITTED = new Set(['1/5', '2/4', '2/6']);

type Json = Record<string, any>;
const isObject = (v: unknown): v is Json => !!v && typeof v === 'object' && !Array.isArray(v);
const invalid = (text: string): never => {
  throw new FhirError(400, 'INVALID_VALUE', text.slice(0, 300));
};
const str = (v: unknown, max = 200) => (typeof v === 'string' ? v.slice(0, max) : undefined);

export interface ScrAlert {
  nhsNumber: string;
  type: { code: string; display: string };
  reason: { code: string; display: string };
  organisation: string;
  user: string;
  role?: string;
  message?: string;
  description?: string;
  recorded?: string;
  entity?: string;
}

/** The one agent identified in this system, with a value and requestor false, as the published validator requires. */
function agentValue(agents: Json[], system: string): { value: string; agent: Json } {
  const found = agents.filter(
    (a) =>
      isObject(a.who) &&
      isObject(a.who.identifier) &&
      a.who.identifier.system === system &&
      typeof a.who.identifier.value === 'string' &&
      a.who.identifier.value !== '',
  );
  if (found.length === 0)
    invalid(`Missing 'agent' entry with 'who.identifier.system' '${system}' and non-empty 'value'`);
  if (found.length > 1)
    invalid(
      `Expecting exactly one 'agent' entry with 'who.identifier.system' '${system}' and non-empty 'value'`,
    );
  if (found[0].requestor !== false)
    invalid(
      `Missing or unsupported 'requestor' value for 'agent' with 'who.identifier.system' '${system}'`,
    );
  return { value: found[0].who.identifier.value as string, agent: found[0] };
}

function codingOf(
  value: unknown,
  system: string,
  codes: Record<string, string>,
  path: string,
): { code: string; display: string } {
  const c = isObject(value) ? value : {};
  if (c.system !== system || typeof c.code !== 'string' || !Object.hasOwn(codes, c.code))
    invalid(`Invalid value - '${path}' must be a code of ${system}`);
  return { code: c.code, display: codes[c.code] };
}

/** Validates the published alert AuditEvent (AuditEvent.json); every defect is a 400 'value' issue, as published. */
export function parseAlert(body: unknown): ScrAlert {
  if (!isObject(body) || body.resourceType !== 'AuditEvent')
    invalid('Invalid value - request body must be a FHIR AuditEvent resource');
  const b = body as Json;
  const agents = Array.isArray(b.agent) ? b.agent.filter(isObject) : [];
  const nhsNumber = agentValue(agents, NHS_NUMBER_SYSTEM).value;
  if (!isValidNhsNumber(nhsNumber))
    invalid(`Invalid value - ${nhsNumber.slice(0, 20)} in field 'NHS_NUMBER'`);
  const organisation = agentValue(agents, ODS_SYSTEM).value;
  const person = agentValue(agents, SDS_USER_SYSTEM);
  const roles = Array.isArray(person.agent.role) ? person.agent.role.filter(isObject) : [];
  if (roles.length === 0)
    invalid(`Expecting at least one 'role' for 'agent' entry with system ${SDS_USER_SYSTEM}`);
  const type = codingOf(b.type, ALERT_TYPE_SYSTEM, ALERT_TYPES, 'type');
  const reason = codingOf(
    Array.isArray(b.subtype) && b.subtype.length === 1 ? b.subtype[0] : undefined,
    ALERT_REASON_SYSTEM,
    ALERT_REASONS,
    'subtype',
  );
  if (NOT_PERMITTED.has(`${type.code}/${reason.code}`))
    invalid(
      `Invalid value - alert type ${type.code} with reason ${reason.code} is not a permitted combination`,
    );
  if (
    b.recorded !== undefined &&
    (typeof b.recorded !== 'string' || Number.isNaN(Date.parse(b.recorded)))
  )
    invalid("Invalid value - 'recorded' must be a dateTime");
  const message = Array.isArray(b.extension)
    ? b.extension.find((e: unknown) => isObject(e) && e.url === NOTIFICATION_URL)?.valueString
    : undefined;
  const entity =
    Array.isArray(b.entity) && isObject(b.entity[0]?.what?.identifier)
      ? b.entity[0].what.identifier.value
      : undefined;
  return {
    nhsNumber,
    type,
    reason,
    organisation: organisation.slice(0, 20),
    user: person.value.slice(0, 40),
    role: str(roles[0].text) ?? str(roles[0].coding?.[0]?.code),
    message: str(message, 500),
    description: str(b.outcomeDesc, 500),
    recorded: str(b.recorded, 40),
    entity: str(entity, 64),
  };
}

/** The route's patient extractor, so the platform checks the legitimate relationship before the handler. */
export const alertPatient = (body: unknown): string => parseAlert(body).nhsNumber;

/**
 * POST /AuditEvent: a privacy alert a clinical system raises (a self-claimed legitimate relationship,
 * an SCR viewed without the patient's permission or under emergency access). It goes into the
 * platform's audit trail against the patient, with the published type and reason, so the privacy
 * officer and the patient see it through the AuditEvent search. The caller is the token's user;
 * what the body says of organisation and user is kept as stated. Nothing is answered but 201.
 */
export function registerAlertRoute(app: FastifyInstance, repo: ResourceStore): void {
  app.post(
    '/AuditEvent',
    { config: { fhirApi: true, activity: 'scr.view', patientFrom: { body: alertPatient } } },
    async (req, reply) => {
      const alert = parseAlert(req.body);
      const ctx = req.ctx;
      await raiseAlert(repo, ctx, alert);
      return reply.code(201).type(FHIR_JSON).send();
    },
  );
}
