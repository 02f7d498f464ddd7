import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { Patient } from 'fhir/r4.js';
import { labelledRestricted, withholdLocation } from '../../fhir/location-data.js';
import type { AuditRecord } from '../../audit/types.js';
import type { ResourceStore } from '../../store/resource-store.js';
import { FIRST_PREFIXES, compartmentOf, walkStep } from '../bulk/index.js';
import { gpOdsCode, isCurrentAddress, PATIENT, replacedBy } from '../pds/index.js';
import { optedOut } from '../scr/index.js';
import { postcodeDistrict, pseudonymFor, yearMonth } from './pseudonym.js';

/**
 * A Secondary Uses Service extract: one pseudonymised line per patient changed since a date, with
 * everyone who holds a national data opt-out left out (a merged number follows its survivor's
 * choice). The NHS Number never appears; dates are cut to the month and postcodes to the district.
 */
export const SUS_COLUMNS = [
  'pseudonym',
  'gender',
  'birth_month',
  'death_month',
  'postcode_district',
  'gp_practice',
  'allergies',
  'medications',
  'prescriptions',
] as const;
export type SusRecord = Record<(typeof SUS_COLUMNS)[number], string | number | null>;

export interface SusOptions {
  /** Patients whose record changed at or after this instant. */
  since: string;
  format: 'ndjson' | 'csv';
  key: Buffer;
  out: Writable;
}

export interface SusReport {
  considered: number;
  written: number;
  excludedOptOut: number;
  supersededSkipped: number;
  since: string;
  seconds: number;
}

const csvField = (v: string | number | null) =>
  v === null ? '' : /[",\n]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : String(v);

function record(stored: Patient, key: Buffer, counts: [number, number, number]): SusRecord {
  // even a postcode district or a practice code places a restricted patient: the platform rule withholds both
  const p = labelledRestricted(stored) ? withholdLocation(stored) : stored;
  const home =
    (p.address ?? []).find((a) => a.use === 'home' && isCurrentAddress(a)) ??
    (p.address ?? []).find((a) => isCurrentAddress(a));
  return {
    pseudonym: pseudonymFor(key, stored.id!),
    gender: p.gender ?? null,
    birth_month: yearMonth(p.birthDate),
    death_month: yearMonth(p.deceasedDateTime),
    postcode_district: postcodeDistrict(home?.postalCode),
    gp_practice: gpOdsCode(p) ?? null,
    allergies: counts[0],
    medications: counts[1],
    prescriptions: counts[2],
  };
}

const extractAudit = (
  patient: string | null,
  outcome: string,
  detail: Record<string, unknown>,
): AuditRecord => ({
  time: new Date().toISOString(),
  requestId: 'sus-extract',
  userId: 'openspine-sus',
  role: 'system',
  org: 'OPENSPINE',
  patient,
  action: 'sus.extract',
  outcome,
  purpose: 'secondary-use',
  type: 'patient-record',
  detail,
});

export async function extractSus(repo: ResourceStore, opts: SusOptions): Promise<SusReport> {
  const began = Date.now();
  const report: SusReport = {
    considered: 0,
    written: 0,
    excludedOptOut: 0,
    supersededSkipped: 0,
    since: opts.since,
    seconds: 0,
  };
  const write = async (text: string) => {
    if (!opts.out.write(text)) await once(opts.out, 'drain');
  };
  if (opts.format === 'csv') await write(SUS_COLUMNS.join(',') + '\n');
  const pending = [...FIRST_PREFIXES];
  while (pending.length) {
    const step = await walkStep(repo, pending.shift()!);
    if ('split' in step) {
      pending.unshift(...step.split);
      continue;
    }
    if (step.patients.length === 0) continue;
    const patients = (await repo.readMany(PATIENT, step.patients)).filter(
      (s) => s.lastUpdated >= opts.since,
    );
    report.considered += patients.length;
    const live = patients.filter((s) => !replacedBy(s.resource));
    report.supersededSkipped += patients.length - live.length; // a merged number's data lives on its survivor
    const out = await optedOut(
      repo,
      live.map((s) => s.id),
    );
    report.excludedOptOut += out.size;
    const included = live.filter((s) => !out.has(s.id));
    if (included.length === 0) continue;
    const ids = included.map((s) => s.id);
    const perPatient = new Map(ids.map((id) => [id, [0, 0, 0] as [number, number, number]]));
    for (const [i, type] of [
      'AllergyIntolerance',
      'MedicationStatement',
      'MedicationRequest',
    ].entries()) {
      const found = await repo.readMany(type, await compartmentOf(repo, type, ids));
      for (const s of found) {
        const ref = (s.resource.patient ?? s.resource.subject) as
          { identifier?: { value?: string } } | undefined;
        const c = perPatient.get(ref?.identifier?.value ?? '');
        if (c) c[i]++;
      }
    }
    let text = '';
    for (const s of included) {
      const r = record(s.resource, opts.key, perPatient.get(s.id)!);
      text +=
        opts.format === 'csv'
          ? SUS_COLUMNS.map((c) => csvField(r[c])).join(',') + '\n'
          : JSON.stringify(r) + '\n';
    }
    await write(text);
    report.written += included.length;
    // each patient whose (pseudonymised) data left for secondary use can see so in their access log
    await repo.commit({
      audit: included.map((s) => extractAudit(s.id, 'success', { since: opts.since })),
    });
  }
  report.seconds = (Date.now() - began) / 1000;
  await repo.commit({ audit: [extractAudit(null, 'complete', { ...report })] });
  return report;
}
