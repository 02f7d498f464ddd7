/**
 * Reading an e-RS Parameters body, the one way every operation reads it: only the published
 * parameter names (422 UNEXPECTED_FIELD), each once unless repeatable (422 INVALID_FHIR_STRUCTURE),
 * and the refusals its values are answered with, in eRS's words.
 */
import { ersError } from './ers-errors.js';

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

/** A Parameters body's parameters, looked up by name (`list`: all of them, in order). */
export interface KnownParameters {
  list: Parameter[];
  one(name: string): Parameter | undefined;
  all(name: string): Parameter[];
}

/**
 * The parameters of a Parameters body holding only `known` names, each at most once unless
 * `repeatable`; 422 otherwise.
 */
export function knownParameters(
  body: unknown,
  known: readonly string[],
  repeatable: readonly string[] = [],
): KnownParameters {
  if (!isObject(body) || body.resourceType !== 'Parameters')
    throw structure('the body must be a Parameters resource');
  if (!Array.isArray(body.parameter) || body.parameter.some((p: unknown) => !isObject(p)))
    throw structure('Parameters.parameter must be an array of parameters');
  const list = body.parameter as Parameter[];
  list.forEach((p, i) => {
    if (typeof p.name !== 'string' || !known.includes(p.name))
      throw ersError(
        422,
        'value',
        'UNEXPECTED_FIELD',
        `'parameter[${i}]' (${String(p.name).slice(0, 40)}) unknown parameter name`,
      );
  });
  for (const name of known)
    if (!repeatable.includes(name) && list.filter((p) => p.name === name).length > 1)
      throw structure(`'${name}' parameter may be given only once`);
  return {
    list,
    one: (name) => list.find((p) => p.name === name),
    all: (name) => list.filter((p) => p.name === name),
  };
}
