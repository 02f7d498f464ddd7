import { FhirError } from './errors.js';
import { NHS_NUMBER_SYSTEM } from './identifiers.js';

interface ParameterPart {
  name?: unknown;
  [value: string]: unknown;
}

/** The parameters of a FHIR Parameters body, or a 400 if the body is not one. */
export function parametersOf(body: unknown): ParameterPart[] {
  const b = body as { resourceType?: unknown; parameter?: unknown } | null;
  if (
    !b ||
    typeof b !== 'object' ||
    b.resourceType !== 'Parameters' ||
    !Array.isArray(b.parameter)
  ) {
    throw new FhirError(400, 'INVALID_VALUE', 'Request body must be a FHIR Parameters resource');
  }
  return b.parameter.filter((p): p is ParameterPart => !!p && typeof p === 'object');
}

/**
 * A string-like value of the named parameter (valueString, valueCode, valueIdentifier.value,
 * valueReference.reference).
 */
export function parameterValue(params: ParameterPart[], name: string): string | undefined {
  const p = params.find((q) => q.name === name);
  if (!p) return undefined;
  for (const key of ['valueString', 'valueCode', 'valueId'])
    if (typeof p[key] === 'string') return p[key] as string;
  const ident = p.valueIdentifier as { value?: unknown } | undefined;
  if (ident && typeof ident.value === 'string') return ident.value;
  const ref = p.valueReference as
    { reference?: unknown; identifier?: { value?: unknown } } | undefined;
  if (ref && typeof ref.reference === 'string') return ref.reference;
  if (ref && typeof ref.identifier?.value === 'string') return ref.identifier.value;
  return undefined;
}

/**
 * An NHS Number from the usual ways of naming a patient: '9000000009', 'Patient/9000000009',
 * '<nhs-number system>|9000000009'.
 */
export function nhsNumberFromReference(value: string): string {
  if (value.startsWith('Patient/')) return value.slice('Patient/'.length);
  if (value.startsWith(`${NHS_NUMBER_SYSTEM}|`)) return value.slice(NHS_NUMBER_SYSTEM.length + 1);
  const slash = value.lastIndexOf('/Patient/');
  return slash >= 0 ? value.slice(slash + '/Patient/'.length) : value;
}
