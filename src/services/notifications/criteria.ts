import { FhirError } from '../../fhir/errors.js';
import { isValidNhsNumber } from '../../fhir/nhs-number.js';
import { EVENT_CODES } from './event-codes.js';
import { NHS_NUMBER_SYSTEM, ODS_SYSTEM } from '../../fhir/identifiers.js';

/**
 * Subscription criteria in the NEMS shape:
 *
 *   /Bundle?type=message[&serviceType=GP]&MessageHeader.event=<code>[&MessageHeader.event=<code>...]&<scope>
 *
 * where <scope> is exactly one of
 *   Patient.identifier=https://fhir.nhs.uk/Id/nhs-number|<NHS Number>   one patient (explicit subscription)
 *   Patient.generalPractitioner=<ODS code>                             every patient registered at the practice
 *   Organization.identifier=<ODS code>                                  every event the organisation took part in
 *                                                                       (the pharmacy or prescriber of a prescription
 *                                                                       event, the author of an SCR upload)
 * The two organisation-wide scopes must name the subscriber's own organisation. `eventCode` is
 * accepted as another name for MessageHeader.event; several codes may also be comma-separated.
 * Anything else (another parameter, a repeated one, an unknown event code) is refused.
 */

export type Scope =
  | { kind: 'patient'; nhsNumber: string }
  | { kind: 'practice'; ods: string }
  | { kind: 'org'; ods: string };

export interface ParsedCriteria {
  events: string[];
  scope: Scope;
  serviceType?: string;
}

const NHS_SYSTEMS = [NHS_NUMBER_SYSTEM, 'http://fhir.nhs.net/Id/nhs-number'];
const ODS = /^[A-Z0-9]{3,10}$/;
const SERVICE_TYPE = /^[A-Z0-9]{2,10}$/;
const KNOWN = new Set([
  'type',
  'serviceType',
  'MessageHeader.event',
  'eventCode',
  'Patient.identifier',
  'Patient.generalPractitioner',
  'Organization.identifier',
]);
const MAX_LENGTH = 2000;

const invalid = (why: string) =>
  new FhirError(400, 'INVALID_SEARCH_DATA', `Invalid subscription criteria - ${why}`);
const show = (value: string) => value.slice(0, 80);

function odsCode(param: string, value: string): string {
  const code = (
    value.startsWith(`${ODS_SYSTEM}|`) ? value.slice(ODS_SYSTEM.length + 1) : value
  ).toUpperCase();
  if (!ODS.test(code)) throw invalid(`'${param}' must be an ODS code, not '${show(value)}'`);
  return code;
}

function nhsNumber(value: string): string {
  const bar = value.indexOf('|');
  if (bar < 0) throw invalid(`'Patient.identifier' must be '${NHS_SYSTEMS[0]}|<NHS Number>'`);
  const system = value.slice(0, bar),
    nhs = value.slice(bar + 1);
  if (!NHS_SYSTEMS.includes(system))
    throw invalid(
      `unknown identifier system '${show(system)}' in 'Patient.identifier'; use ${NHS_SYSTEMS[0]}`,
    );
  if (!isValidNhsNumber(nhs))
    throw invalid(`'${show(nhs)}' in 'Patient.identifier' is not a valid NHS Number`);
  return nhs;
}

/** Parses and checks criteria; throws a 400 INVALID_SEARCH_DATA naming what is wrong. */
export function parseCriteria(criteria: unknown): ParsedCriteria {
  if (typeof criteria !== 'string' || criteria.trim() === '')
    throw new FhirError(400, 'MISSING_VALUE', "Missing value - 'criteria' is required");
  if (criteria.length > MAX_LENGTH) throw invalid(`longer than ${MAX_LENGTH} characters`);
  if (!criteria.startsWith('/Bundle?')) throw invalid("it must start with '/Bundle?'");
  let params: URLSearchParams;
  try {
    params = new URLSearchParams(criteria.slice('/Bundle?'.length));
  } catch {
    throw invalid('the query string cannot be parsed');
  }
  const values = new Map<string, string[]>();
  for (const [name, value] of params) {
    if (!KNOWN.has(name)) throw invalid(`unsupported parameter '${show(name)}'`);
    if (value === '') throw invalid(`'${name}' has no value`);
    const key = name === 'eventCode' ? 'MessageHeader.event' : name;
    values.set(key, [...(values.get(key) ?? []), value]);
  }
  for (const [name, list] of values)
    if (name !== 'MessageHeader.event' && list.length > 1)
      throw invalid(`'${name}' may be given only once`);
  const one = (name: string) => values.get(name)?.[0];

  if (one('type') !== 'message') throw invalid("'type=message' is required");
  const serviceType = one('serviceType');
  if (serviceType !== undefined && !SERVICE_TYPE.test(serviceType))
    throw invalid(`'serviceType' '${show(serviceType)}' is not a service type code`);

  const events = [
    ...new Set(
      (values.get('MessageHeader.event') ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()),
    ),
  ];
  if (events.length === 0) throw invalid("at least one 'MessageHeader.event' is required");
  for (const code of events)
    if (!EVENT_CODES[code])
      throw invalid(
        `unknown event code '${show(code)}'; known: ${Object.keys(EVENT_CODES).join(', ')}`,
      );

  const scopes: Scope[] = [];
  const patient = one('Patient.identifier'),
    practice = one('Patient.generalPractitioner'),
    org = one('Organization.identifier');
  if (patient !== undefined) scopes.push({ kind: 'patient', nhsNumber: nhsNumber(patient) });
  if (practice !== undefined)
    scopes.push({ kind: 'practice', ods: odsCode('Patient.generalPractitioner', practice) });
  if (org !== undefined) scopes.push({ kind: 'org', ods: odsCode('Organization.identifier', org) });
  if (scopes.length !== 1)
    throw invalid(
      "exactly one of 'Patient.identifier', 'Patient.generalPractitioner' or 'Organization.identifier' is required",
    );
  return { events: events.sort(), scope: scopes[0], ...(serviceType ? { serviceType } : {}) };
}

/** The routing key of one (event code, scope) pair: the index value the router looks subscriptions up by. */
export function routeKey(event: string, scope: Scope): string {
  return `${event}|${scope.kind}|${scope.kind === 'patient' ? scope.nhsNumber : scope.ods}`;
}
