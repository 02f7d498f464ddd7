/**
 * The practice's Summary Care Records: the demo GP uploads a GP summary (allergies with reactions,
 * current medications; for two patients who gave express consent, their conditions too) for most
 * registered patients through the SCR API; one patient then dissents (their SCR is withheld from
 * then on) and one sets the national data opt-out. Every write is the SCR service's own use case.
 */
import { NHS_NUMBER_SYSTEM, ODS_SYSTEM } from '../../fhir/identifiers.js';
import { demoUuid, type DemoApi, type DemoCaller } from './demo-api.js';
import { PRACTICE, STAFF, type CohortPatient, type CohortRole } from './demo-cast.js';
import { ALLERGIES, MEDICINES, type AllergyName, type MedicineName } from './demo-clinical.js';

export const SCR = '/summary-care-record/FHIR/R4';
const SNOMED = 'http://snomed.info/sct';
const CHOICE = 'https://openspine.dev/CodeSystem/scr-consent-choice';
const BASE = 'https://api.service.nhs.uk/summary-care-record/FHIR/R4/';

interface Summary {
  allergies: AllergyName[];
  medicines: MedicineName[];
  /** Conditions (additional information: uploaded after the patient's express consent). */
  conditions?: { code: string; display: string }[];
}

const SUMMARIES: Partial<Record<CohortRole, Summary>> = {
  'login-awaiting-booking': { allergies: ['latex'], medicines: ['salbutamol'] },
  'login-booked': {
    allergies: ['aspirin'],
    medicines: ['atorvastatin', 'amlodipine'],
    conditions: [{ code: '38341003', display: 'Hypertensive disorder' }],
  },
  'login-triage': {
    allergies: ['grassPollen'],
    medicines: ['metformin'],
    conditions: [{ code: '44054006', display: 'Type 2 diabetes mellitus' }],
  },
  restricted: { allergies: ['peanut'], medicines: ['omeprazole'] },
  dissent: { allergies: ['penicillin'], medicines: ['azithromycin'] },
  'opted-out': { allergies: ['penicillin'], medicines: ['paracetamol', 'cocodamol'] },
  'restricted-emergency': { allergies: ['penicillin', 'peanut'], medicines: ['salbutamol'] },
  emergency: { allergies: ['latex'], medicines: ['salbutamol'] },
  'triage-2': { allergies: ['aspirin'], medicines: ['amlodipine'] },
  'emergency-2': { allergies: ['penicillin'], medicines: ['paracetamol'] },
};

const text = (html: string) => ({
  status: 'generated',
  div: `<div xmlns="http://www.w3.org/1999/xhtml"><p>${html}</p></div>`,
});

/** A GP summary document Bundle for the patient, its ids derived from the patient and seed. */
export function gpSummary(nhs: string, s: Summary, when: string): Record<string, any> {
  const id = (what: string) => demoUuid(`scr:${nhs}:${what}`).toUpperCase();
  const entry = (type: string, key: string, resource: Record<string, any>) => ({
    fullUrl: `${BASE}${type}/${id(key)}`,
    resource: { resourceType: type, id: id(key), ...resource },
  });
  const patient = { reference: `Patient/${id('patient')}` };
  const allergies = s.allergies.map((a, i) =>
    entry('AllergyIntolerance', `allergy-${i}`, {
      clinicalStatus: {
        coding: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical',
            code: 'active',
          },
        ],
      },
      code: {
        coding: [{ system: SNOMED, code: ALLERGIES[a].code, display: ALLERGIES[a].display }],
      },
      patient,
      reaction: [
        {
          manifestation: [{ coding: [{ system: SNOMED, ...ALLERGIES[a].reaction }] }],
          severity: ALLERGIES[a].severity,
        },
      ],
    }),
  );
  const medicines = s.medicines.map((m, i) =>
    entry('MedicationStatement', `medication-${i}`, {
      status: 'active',
      medicationCodeableConcept: {
        coding: [
          { system: 'https://dmd.nhs.uk', code: MEDICINES[m].code, display: MEDICINES[m].display },
        ],
      },
      subject: patient,
      dosage: [{ text: MEDICINES[m].dosage }],
    }),
  );
  const conditions = (s.conditions ?? []).map((c, i) =>
    entry('Condition', `condition-${i}`, {
      code: { coding: [{ system: SNOMED, ...c }] },
      subject: patient,
    }),
  );
  const section = (title: string, code: string, html: string, entries: { fullUrl: string }[]) => ({
    title,
    code: { coding: [{ code }] },
    text: text(html),
    entry: entries.map((e) => ({ reference: e.fullUrl.slice(BASE.length) })),
  });
  const composition = entry('Composition', 'composition', {
    identifier: { system: 'https://tools.ietf.org/html/rfc4122', value: id('composition') },
    status: 'final',
    type: {
      coding: [{ system: SNOMED, code: '196981000000101', display: 'General Practice Summary' }],
    },
    subject: patient,
    date: when,
    author: [{ reference: `PractitionerRole/${id('role')}` }],
    title: 'General Practice Summary',
    section: [
      section(
        'Allergies and Adverse Reactions',
        'AllergiesHeader',
        s.allergies.map((a) => ALLERGIES[a].display).join('. '),
        allergies,
      ),
      section(
        'Current Repeat Medications',
        'RepeatMedsHeader',
        s.medicines.map((m) => MEDICINES[m].display).join('; '),
        medicines,
      ),
      ...(conditions.length
        ? [
            section(
              'Diagnoses',
              'DiagnosesHeader',
              (s.conditions ?? []).map((c) => c.display).join('; '),
              conditions,
            ),
          ]
        : []),
    ],
  });
  return {
    resourceType: 'Bundle',
    id: id('bundle'),
    identifier: { system: 'https://tools.ietf.org/html/rfc4122', value: id('message') },
    type: 'document',
    timestamp: when,
    entry: [
      composition,
      entry('Patient', 'patient', { identifier: [{ system: NHS_NUMBER_SYSTEM, value: nhs }] }),
      entry('PractitionerRole', 'role', {
        practitioner: { reference: `Practitioner/${id('practitioner')}` },
        organization: { reference: `Organization/${id('organisation')}` },
      }),
      entry('Practitioner', 'practitioner', {
        identifier: [{ system: 'https://fhir.nhs.uk/Id/sds-user-id', value: STAFF.gp.id }],
        name: [{ text: STAFF.gp.name }],
      }),
      entry('Organization', 'organisation', {
        identifier: [{ system: ODS_SYSTEM, value: PRACTICE }],
        name: 'The Densham Surgery',
      }),
      ...allergies,
      ...medicines,
      ...conditions,
    ],
  };
}

const consent = (nhs: string, code: string) => ({
  resourceType: 'Consent',
  status: 'active',
  scope: {
    coding: [
      { system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' },
    ],
  },
  patient: { identifier: { system: NHS_NUMBER_SYSTEM, value: nhs } },
  policyRule: { coding: [{ system: CHOICE, code }] },
});

async function recordConsent(gp: DemoCaller, nhs: string, code: string): Promise<void> {
  await gp.call(`scr:${nhs}:consent:${code}`, { url: `${SCR}/Consent`, body: consent(nhs, code) });
}

/** Uploads the summaries and records the consent choices; returns the patients with an SCR. */
export async function seedSummaryRecords(api: DemoApi, cohort: CohortPatient[]): Promise<string[]> {
  const gp = await api.staff(STAFF.gp);
  const uploaded: string[] = [];
  for (const p of cohort) {
    const summary = SUMMARIES[p.role];
    if (!summary) continue;
    if (summary.conditions) await recordConsent(gp, p.nhs, 'scr-additional');
    await gp.call(`scr:${p.nhs}:upload`, {
      url: `${SCR}/Bundle`,
      body: gpSummary(p.nhs, summary, new Date().toISOString()),
    });
    uploaded.push(p.nhs);
  }
  const dissenting = cohort.find((p) => p.role === 'dissent')!;
  await recordConsent(gp, dissenting.nhs, 'scr-dissent');
  const optedOut = cohort.find((p) => p.role === 'opted-out')!;
  await gp.call(`scr:${optedOut.nhs}:opt-out`, {
    url: `${SCR}/$set-opt-out`,
    body: {
      resourceType: 'Parameters',
      parameter: [
        { name: 'patient', valueIdentifier: { system: NHS_NUMBER_SYSTEM, value: optedOut.nhs } },
        { name: 'optOut', valueBoolean: true },
      ],
    },
  });
  return uploaded;
}
