import { FhirError } from './errors.js';

export function etagFor(version: number): string {
  return `W/"${version}"`;
}

/** Reads an If-Match header of the form W/"n"; missing or malformed is 412 as PDS answers. */
export function parseIfMatch(header: string | string[] | undefined): number {
  if (header === undefined)
    throw new FhirError(
      412,
      'PRECONDITION_FAILED',
      'Invalid request with error - If-Match header must be supplied to update this resource',
    );
  const m = typeof header === 'string' ? /^W\/"([0-9]{1,15})"$/.exec(header.trim()) : null;
  if (!m)
    throw new FhirError(
      412,
      'PRECONDITION_FAILED',
      `Invalid request with error - If-Match header must be of the form W/"<version>"`,
    );
  return Number(m[1]);
}
