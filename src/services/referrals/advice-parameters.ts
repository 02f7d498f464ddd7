/**
 * The pieces every A&G Parameters body is read with, in eRS's words: only the published parameter
 * names (UNEXPECTED_FIELD), each once unless repeatable (INVALID_FHIR_STRUCTURE), texts (at most
 * 8000 characters), codings of a published code system (INVALID_CODE), and attachments named by
 * their Binary reference (eRS-DocumentReference-1).
 */
import { ersError } from './ers-errors.js';
import { ATTACHMENT_TYPE_SYSTEM } from './advice-model.js';
import { PRIORITY_SYSTEM } from './referral-model.js';

/** A message's text: published maximum 8000 characters. */
export const MAX_TEXT = 8000;
export const PRIORITIES = ['ROUTINE', 'URGENT', 'TWO_WEEK_WAIT'] as const;

export interface Parameter {
  name?: unknown;
  [value: string]: unknown;
}

export const structure = (why: string) => ersError(422, 'structure', 'INVALID_FHIR_STRUCTURE', why);
export const missing = (name: string) =>
  ersError(422, 'required', 'MISSING_VALUE', `'${name}' parameter is required`);
export const invalid = (why: string) => ersError(422, 'value', 'INVALID_VALUE', why);
export const badCode = (why: string) => ersError(422, 'code-invalid', 'INVALID_CODE', why);
export const isObject = (v: unknown): v is Record<string, any> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The parameters of a Parameters body holding only `known` names, each at most once unless `many`. */
export function parametersOf(
  body: unknown,
  known: readonly string[],
  many: readonly string[] = [],
) {
  if (!isObject(body) || body.resourceType !== 'Parameters')
    throw structure('the body must be a Parameters resource');
  if (!Array.isArray(body.parameter) || body.parameter.some((p: unknown) => !isObject(p)))
    throw structure('Parameters.parameter must be an array of parameters');
  const params = body.parameter as Parameter[];
  params.forEach((p, i) => {
    if (typeof p.name !== 'string' || !known.includes(p.name))
      throw ersError(
        422,
        'value',
        'UNEXPECTED_FIELD',
        `'parameter[${i}]' (${String(p.name).slice(0, 40)}) unknown parameter name`,
      );
  });
  for (const name of known)
    if (!many.includes(name) && params.filter((p) => p.name === name).length > 1)
      throw structure(`'${name}' parameter may be given only once`);
  return {
    one: (name: string) => params.find((p) => p.name === name),
    all: (name: string) => params.filter((p) => p.name === name),
  };
}

/** A required, non-blank valueString of at most MAX_TEXT characters. */
export function text(p: Parameter | undefined, name: string, max = MAX_TEXT): string {
  if (!p) throw missing(name);
  const v = p.valueString;
  if (typeof v !== 'string' || v.trim() === '')
    throw invalid(`'${name}' must be a valueString holding some text`);
  if (v.length > max)
    throw invalid(`'${name}' may hold at most ${max} characters; ${v.length} were given`);
  return v;
}

/** A valueCoding of `system` whose code is one of `codes`. */
export function coding<C extends string>(
  p: Parameter | undefined,
  name: string,
  system: string,
  codes: readonly C[],
): C {
  if (!p) throw missing(name);
  const c = p.valueCoding;
  if (!isObject(c) || c.system !== system || !(codes as readonly unknown[]).includes(c.code))
    throw badCode(`'${name}' must be a valueCoding of ${system}: one of ${codes.join(', ')}`);
  return c.code as C;
}

export const priority = (p: Parameter | undefined, name: string) =>
  coding(p, name, PRIORITY_SYSTEM, PRIORITIES);

/** An attachment already uploaded (a020), named by its Binary reference: eRS-DocumentReference-1. */
export interface AttachmentRef {
  url: string;
  type: string;
  indexed: string;
  description?: string;
}

export function attachment(p: Parameter, name: string, i: number, type: string): AttachmentRef {
  const d = p.resource;
  const where = `'${name}'[${i}]`;
  if (!isObject(d) || d.resourceType !== 'DocumentReference')
    throw structure(`${where} must carry a DocumentReference`);
  const codes = Array.isArray(d.type?.coding) ? d.type.coding : [];
  if (
    !codes.some((c: any) => isObject(c) && c.system === ATTACHMENT_TYPE_SYSTEM && c.code === type)
  )
    throw badCode(`${where} type must be ${type} (${ATTACHMENT_TYPE_SYSTEM})`);
  if (d.status !== 'current') throw badCode(`${where} status must be 'current'`);
  if (typeof d.indexed !== 'string' || !Number.isFinite(Date.parse(d.indexed)))
    throw invalid(`${where} indexed must be a date-time`);
  const content = d.content;
  const url =
    Array.isArray(content) && content.length === 1 ? content[0]?.attachment?.url : undefined;
  if (typeof url !== 'string' || !/^Binary\/[A-Za-z0-9.-]{1,64}$/.test(url))
    throw invalid(`${where} must hold one content attachment whose url is Binary/<id>`);
  if (d.description !== undefined && d.description !== null && typeof d.description !== 'string')
    throw invalid(`${where} description must be a string`);
  if (typeof d.description === 'string' && d.description.length > 1000)
    throw invalid(`${where} description may hold at most 1000 characters`);
  return {
    url,
    type,
    indexed: d.indexed,
    ...(d.description ? { description: d.description } : {}),
  };
}
