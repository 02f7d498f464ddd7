import { API } from './api-paths.js';
import type { PageTools, PatientBanner } from './web-page.js';

/** A patient as PDS answered: the resource, its ETag (for If-Match) and the banner it gives. */
export interface PatientRecord {
  patient: Record<string, any>;
  /** The ETag PDS sent (W/"<version>"): what an update sends back as If-Match. */
  etag: string;
  banner: PatientBanner;
}

const NHS_NUMBER = /^\d{10}$/;

export function isNhsNumber(value: unknown): value is string {
  return typeof value === 'string' && NHS_NUMBER.test(value);
}

/** "Jane SMITH": given names, then the family name in capitals, as clinical systems show it. */
export function displayName(patient: Record<string, any>): string {
  const names: any[] = Array.isArray(patient.name) ? patient.name : [];
  const name = names.find((n) => n?.use === 'usual') ?? names[0];
  if (!name) return 'Name not known';
  const given = Array.isArray(name.given) ? name.given.join(' ') : '';
  const family = typeof name.family === 'string' ? name.family.toUpperCase() : '';
  return [given, family].filter(Boolean).join(' ') || 'Name not known';
}

/** The current home address on one line, or undefined (a restricted record has none to show). */
export function addressLine(patient: Record<string, any>): string | undefined {
  const addresses: any[] = Array.isArray(patient.address) ? patient.address : [];
  const home = addresses.find((a) => a?.use === 'home' && !a?.period?.end) ?? addresses[0];
  if (!home) return undefined;
  const parts = [...(Array.isArray(home.line) ? home.line : []), home.city, home.postalCode];
  return parts.filter((p) => typeof p === 'string' && p.trim()).join(', ') || undefined;
}

/** Whether PDS marks the record restricted (security label R): its location never leaves. */
export function isRestrictedRecord(patient: Record<string, any>): boolean {
  const labels: any[] = Array.isArray(patient.meta?.security) ? patient.meta.security : [];
  return labels.some((l) => l?.code === 'R');
}

export function bannerOf(patient: Record<string, any>): PatientBanner {
  return {
    nhsNumber: String(patient.id),
    name: displayName(patient),
    ...(patient.birthDate ? { birthDate: String(patient.birthDate) } : {}),
    ...(patient.gender ? { gender: String(patient.gender) } : {}),
    ...(isRestrictedRecord(patient) ? { restricted: true } : {}),
    ...(patient.deceasedDateTime ? { deceased: String(patient.deceasedDateTime) } : {}),
    ...(addressLine(patient) ? { address: addressLine(patient) } : {}),
  };
}

/**
 * Reads a patient from PDS as the signed-in person (so the read is checked and audited as theirs).
 * A refusal or an unknown number becomes the error page, with PDS's own words.
 */
export async function loadPatient(tools: PageTools, nhsNumber: string): Promise<PatientRecord> {
  const res = await tools.expect({ url: `${API.pds}/Patient/${nhsNumber}` });
  return {
    patient: res.body,
    etag: String(res.headers.etag ?? ''),
    banner: bannerOf(res.body),
  };
}
