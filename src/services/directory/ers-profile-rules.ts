/**
 * The e-Referral profile of a HealthcareService written through the directory API, read back from
 * the fields ers-profile.ts writes: `specialty` (one e-RS specialty), `characteristic` (the request
 * flow, and for a bookable service whether it is booked directly or indirectly) and the
 * ERS_PROFILE_URL extension (clinic types, priorities, advice and guidance, referrer restriction,
 * indicative wait). The three come together or not at all: a service without them is not offered on
 * e-RS. Anything malformed is a 400 naming the field, like the directory's other validators.
 */
import { isObject, type JsonObject } from '../../fhir/json-shape.js';
import {
  BOOKABLE_TYPE_SYSTEM,
  CLINIC_TYPE_SYSTEM,
  ERS_PRIORITIES,
  ERS_PROFILE_URL,
  PRIORITY_SYSTEM,
  REQUEST_FLOW_SYSTEM,
  SPECIALTY_SYSTEM,
  type BookableType,
  type ErsPriority,
  type ErsProfile,
  type RequestFlow,
} from './ers-profile.js';
import { ODS_CODE } from './organization-model.js';
import { badCode, codesOf, invalid, list, missing } from './resource-rules.js';

/** e-RS reference-data codes are upper-case words joined by '_' (CARDIOLOGY, HEART_FAILURE). */
const ERS_CODE = /^[A-Z][A-Z0-9_]{0,79}$/;
const FLOWS: readonly RequestFlow[] = ['BOOKABLE', 'TRIAGE'];
const BOOKABLE_TYPES: readonly BookableType[] = ['DIRECTLY_BOOKABLE', 'INDIRECTLY_BOOKABLE'];
const PARTS = ['clinicType', 'priority', 'adviceAndGuidance', 'restrictedTo', 'waitDays'];
/** The longest indicative wait a service may publish (ten years, in days). */
const MAX_WAIT_DAYS = 3650;

function ersCode(code: string, field: string): string {
  if (!ERS_CODE.test(code))
    throw badCode(
      field,
      `'${code.slice(0, 40)}' is not an e-RS code (upper-case letters, digits, _)`,
    );
  return code;
}

/** The request flow and bookable type from `characteristic`. */
function characteristics(values: unknown[]): { flow: RequestFlow; bookable?: BookableType } {
  let flow: RequestFlow | undefined;
  let bookable: BookableType | undefined;
  values.forEach((cc, i) => {
    const codings = isObject(cc) ? cc.coding : undefined;
    const c = Array.isArray(codings) && codings.length === 1 ? codings[0] : undefined;
    if (!isObject(c) || typeof c.code !== 'string')
      throw invalid(`characteristic[${i}]`, 'expected a CodeableConcept with one coding');
    if (c.system === REQUEST_FLOW_SYSTEM && !flow && FLOWS.includes(c.code as RequestFlow))
      flow = c.code as RequestFlow;
    else if (
      c.system === BOOKABLE_TYPE_SYSTEM &&
      !bookable &&
      BOOKABLE_TYPES.includes(c.code as BookableType)
    )
      bookable = c.code as BookableType;
    else
      throw badCode(
        `characteristic[${i}]`,
        `expected one ${REQUEST_FLOW_SYSTEM} code (${FLOWS.join(', ')}) and, for a bookable ` +
          `service, one ${BOOKABLE_TYPE_SYSTEM} code (${BOOKABLE_TYPES.join(', ')})`,
      );
  });
  if (!flow) throw missing(`characteristic (${REQUEST_FLOW_SYSTEM})`);
  if (flow === 'BOOKABLE' && !bookable) throw missing(`characteristic (${BOOKABLE_TYPE_SYSTEM})`);
  if (flow === 'TRIAGE' && bookable)
    throw invalid('characteristic', 'a TRIAGE service is not booked: it has no bookable type');
  return { flow, ...(bookable ? { bookable } : {}) };
}

type Part = JsonObject & { url: string };

/** The coding of a part, which must be of `system`. */
function codingOf(part: Part, field: string, system: string): string {
  const c = part.valueCoding;
  if (!isObject(c) || c.system !== system || typeof c.code !== 'string')
    throw badCode(field, `expected a valueCoding from ${system}`);
  return c.code;
}

/** The parts of the ERS_PROFILE_URL extension: clinic types, priorities, A&G, restriction, wait. */
function profileParts(extensions: unknown[]) {
  const ext = extensions.find((e) => isObject(e) && e.url === ERS_PROFILE_URL);
  extensions.forEach((e, i) => {
    if (!isObject(e) || e.url !== ERS_PROFILE_URL)
      throw invalid(`extension[${i}]`, `only the e-RS profile extension (${ERS_PROFILE_URL})`);
  });
  if (extensions.length > 1) throw invalid('extension', 'the e-RS profile may be given only once');
  if (!isObject(ext)) throw missing(`extension (${ERS_PROFILE_URL})`);
  const parts = list(ext, 'extension', { required: true, max: 200 });
  const field = (i: number) => `extension[0].extension[${i}]`;
  const clinicTypes: string[] = [];
  const priorities: ErsPriority[] = [];
  const restrictedTo: string[] = [];
  let adviceAndGuidance: boolean | undefined;
  let waitDays: number | undefined;
  parts.forEach((p, i) => {
    if (!isObject(p) || typeof p.url !== 'string' || !PARTS.includes(p.url))
      throw invalid(field(i), `expected one of ${PARTS.join(', ')}`);
    const part = p as Part;
    if (part.url === 'clinicType')
      clinicTypes.push(ersCode(codingOf(part, field(i), CLINIC_TYPE_SYSTEM), field(i)));
    else if (part.url === 'priority') {
      const code = codingOf(part, field(i), PRIORITY_SYSTEM);
      if (!ERS_PRIORITIES.includes(code as ErsPriority))
        throw badCode(field(i), `expected one of ${ERS_PRIORITIES.join(', ')}`);
      priorities.push(code as ErsPriority);
    } else if (part.url === 'adviceAndGuidance') {
      if (typeof part.valueBoolean !== 'boolean' || adviceAndGuidance !== undefined)
        throw invalid(field(i), 'expected one valueBoolean');
      adviceAndGuidance = part.valueBoolean;
    } else if (part.url === 'restrictedTo') {
      const ods = typeof part.valueString === 'string' ? part.valueString.toUpperCase() : '';
      if (!ODS_CODE.test(ods)) throw invalid(field(i), 'expected an ODS code as valueString');
      restrictedTo.push(ods);
    } else {
      const days = part.valueInteger;
      if (
        waitDays !== undefined ||
        typeof days !== 'number' ||
        !Number.isInteger(days) ||
        days < 0 ||
        days > MAX_WAIT_DAYS
      )
        throw invalid(field(i), `expected one valueInteger from 0 to ${MAX_WAIT_DAYS} (days)`);
      waitDays = days;
    }
  });
  if (!priorities.length) throw missing(`extension[0].extension (priority)`);
  if (clinicTypes.length > 20) throw invalid('extension[0].extension', 'more than 20 clinic types');
  if (restrictedTo.length > 100)
    throw invalid('extension[0].extension', 'more than 100 restrictedTo organisations');
  return {
    clinicTypes: [...new Set(clinicTypes)],
    priorities: ERS_PRIORITIES.filter((p) => priorities.includes(p)),
    adviceAndGuidance: adviceAndGuidance ?? false,
    ...(restrictedTo.length ? { restrictedTo: [...new Set(restrictedTo)] } : {}),
    ...(waitDays === undefined ? {} : { waitDays }),
  };
}

/**
 * The e-RS profile of a HealthcareService body, or undefined when it carries none of `specialty`,
 * `characteristic` and `extension` (not an e-RS service). Throws a 400 for anything malformed.
 */
export function parseErsProfile(body: JsonObject): ErsProfile | undefined {
  for (const field of ['specialty', 'characteristic', 'extension'])
    if (Array.isArray(body[field]) && !(body[field] as unknown[]).length)
      throw invalid(field, 'an empty array (leave the field out)');
  const specialty = list(body, 'specialty', { max: 1 });
  const characteristic = list(body, 'characteristic', { max: 2 });
  const extension = list(body, 'extension', { max: 1 });
  if (!specialty.length && !characteristic.length && !extension.length) return undefined;
  if (!specialty.length) throw missing('specialty');
  if (!characteristic.length) throw missing('characteristic');
  const codes = codesOf(specialty, 'specialty', SPECIALTY_SYSTEM);
  if (codes.length !== 1) throw invalid('specialty', 'expected one e-RS specialty code');
  return {
    specialty: ersCode(codes[0], 'specialty[0]'),
    ...characteristics(characteristic),
    ...profileParts(extension),
  };
}
