/**
 * The values A&G Parameters bodies carry (read with ers-parameters.ts), in eRS's words: texts (at
 * most 8000 characters), codings of a published code system (INVALID_CODE), and attachments named
 * by their Binary reference (eRS-DocumentReference-1).
 */
import {
  badCode,
  invalid,
  isObject,
  missing,
  structure,
  type Parameter,
} from './ers-parameters.js';
import { ATTACHMENT_TYPE_SYSTEM } from './advice-model.js';
import { PRIORITY_SYSTEM } from './referral-model.js';

/** A message's text: published maximum 8000 characters. */
export const MAX_TEXT = 8000;
export const PRIORITIES = ['ROUTINE', 'URGENT', 'TWO_WEEK_WAIT'] as const;

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
