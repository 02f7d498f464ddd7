/**
 * The rules on where and how the person is reached and cared for: addresses, telecoms, the
 * registered GP and extensions (communication needs). Like the person rules, each runs only on what
 * validatePatient (patient-rules.ts) finds changed; `check` picks the list items to hold to them.
 */
import type { Patient } from 'fhir/r4.js';
import { FhirError } from '../../fhir/errors.js';
import { checkList, checkPeriod, invalid, ruleBroken, shown } from './patient-value-rules.js';

const TELECOM_SYSTEMS = new Set(['phone', 'fax', 'email', 'pager', 'url', 'sms', 'other']);
/**
 * The shape of a postcode, not the Royal Mail's list: PDS holds postcodes such as 'BAP 4WG' (an outward
 * code of two to four letters and digits, an inward code of three), and 'ZZ99 3VZ' (no fixed abode).
 */
const POSTCODE = /^[A-Z0-9]{2,4} ?[A-Z0-9]{3}$/i;
/**
 * The communication extension, by the end of its URL (records carry the fhir.nhs.uk/R4 and the
 * fhir.hl7.org.uk forms).
 */
const isCommunication = (url: unknown) =>
  typeof url === 'string' && url.endsWith('/Extension-UKCore-NHSCommunication');

type Mode = 'create' | 'update';
type ItemFilter = (item: unknown) => boolean;

export function checkAddresses(p: Patient, mode: Mode, check: ItemFilter): void {
  (checkList('address', p.address, 20) as NonNullable<Patient['address']>).forEach((a, i) => {
    if (!check(a)) return;
    if (
      a.postalCode !== undefined &&
      (typeof a.postalCode !== 'string' || !POSTCODE.test(a.postalCode.trim()))
    ) {
      throw invalid(
        'INVALID_VALUE',
        `Invalid value - '${shown(a.postalCode).slice(0, 20)}' in field 'address[${i}].postalCode'`,
      );
    }
    if (
      a.line !== undefined &&
      (!Array.isArray(a.line) || a.line.length > 5 || a.line.some((l) => typeof l !== 'string'))
    ) {
      throw invalid(
        'INVALID_VALUE',
        `Invalid value - '${shown(a.line)}' in field 'address/${i}/line'`,
      );
    }
    if (mode === 'create' && a.line !== undefined) {
      // the published update examples hold three-line addresses, so the rule is the birth registration's
      const filled = (n: number) => typeof a.line![n] === 'string' && a.line![n].trim() !== '';
      if (!((filled(0) || filled(1)) && filled(3)))
        throw ruleBroken(mode, 'address lines 1 and 4 or 2 and 4 must be completed as a minimum');
    }
    if (a.extension !== undefined && !Array.isArray(a.extension))
      throw invalid(
        'INVALID_VALUE',
        `Invalid value - '${shown(a.extension)}' in field 'address/${i}/extension'`,
      );
    (a.extension ?? []).forEach((e, j) => {
      if (typeof e?.url !== 'string' || !e.url.endsWith('/Extension-UKCore-AddressKey')) return;
      const sub = e.extension;
      if (!Array.isArray(sub) || sub.length === 0)
        throw new FhirError(
          400,
          'MISSING_VALUE',
          `Missing value - 'address/${i}/extension/${j}/extension'`,
        );
      for (const part of ['type', 'value']) {
        if (!sub.some((s) => s?.url === part))
          throw new FhirError(
            400,
            'MISSING_VALUE',
            `Missing value - 'address/${i}/extension/${j}/extension/${part}'`,
          );
      }
    });
    if (mode === 'create' && a.use === 'temp' && a.period?.end === undefined)
      throw ruleBroken(mode, 'a temporary address must have an end date');
    checkPeriod(`address[${i}]`, a.period);
  });
}

export function checkTelecoms(p: Patient, mode: Mode, check: ItemFilter): void {
  (checkList('telecom', p.telecom, 20) as NonNullable<Patient['telecom']>).forEach((t, i) => {
    if (!check(t)) return;
    if (!t.system || !TELECOM_SYSTEMS.has(t.system))
      throw invalid(
        'INVALID_VALUE',
        `Invalid value - '${shown(t.system).slice(0, 20)}' in field 'telecom[${i}].system'`,
      );
    if (typeof t.value !== 'string' || !t.value.trim())
      throw new FhirError(400, 'MISSING_VALUE', `Missing value - 'telecom[${i}].value'`);
    if (t.system === 'email' && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(t.value)) {
      if (mode === 'create') throw ruleBroken(mode, 'email format is invalid');
      throw invalid(
        'INVALID_VALUE',
        `Invalid value - '${t.value.slice(0, 60)}' in field 'telecom[${i}].value'`,
      );
    }
    checkPeriod(`telecom[${i}]`, t.period);
  });
}

export function checkGeneralPractitioner(p: Patient): void {
  (
    checkList('generalPractitioner', p.generalPractitioner, 1) as NonNullable<
      Patient['generalPractitioner']
    >
  ).forEach((g, i) => {
    const ods = g.identifier?.value;
    if (typeof ods !== 'string' || !/^[A-Z0-9]{3,8}$/i.test(ods))
      throw invalid(
        'INVALID_VALUE',
        `Invalid value in field 'generalPractitioner[${i}].identifier.value' (an ODS code)`,
      );
  });
}

/** Extensions: each names its URL; a communication extension keeps a stated interpreter need. */
export function checkExtensions(
  p: Patient,
  mode: Mode,
  check: ItemFilter,
  before: Patient | undefined,
): void {
  checkList('extension', p.extension, 50).forEach((e, i) => {
    if (!check(e)) return;
    const ext = e as { url?: unknown; extension?: Array<{ url?: unknown }> };
    if (typeof ext.url !== 'string')
      throw new FhirError(400, 'MISSING_VALUE', `Missing value - 'extension[${i}].url'`);
    if (isCommunication(ext.url) && Array.isArray(ext.extension)) {
      const had = (before?.extension ?? []).some(
        (x) =>
          isCommunication(x?.url) && x.extension?.some((s) => s?.url === 'interpreterRequired'),
      );
      if (had && !ext.extension.some((s) => s?.url === 'interpreterRequired'))
        throw ruleBroken(mode, 'interpreterRequired cannot be removed');
      ext.extension.forEach((s, j) => {
        if (s?.url !== 'language' && s?.url !== 'interpreterRequired')
          throw invalid(
            'INVALID_VALUE',
            `Invalid value - '${shown(s?.url)}' in field 'extension/${i}/extension/${j}/url'`,
          );
      });
    }
  });
}
