/**
 * The rest of the working day, through the platform's APIs:
 * - the practice subscribes to life events about its patients and to its prescriptions' status,
 *   with pull mailboxes (the events of the day are delivered into them);
 * - the receptionist registers a patient moving in from the old practice and records another's new
 *   address on PDS (the change of GP starts a GP2GP transfer, as PDS's events do);
 * - the practice requests another new patient's record over GP2GP and the old practice sends it,
 *   so it waits for the practice to acknowledge it;
 * - the hospital's clinician uses emergency (break-glass) access, with reasons, to three patients
 *   it has no relationship with and reads their summary: the alerts the privacy officer reviews.
 */
import { NHS_NUMBER_SYSTEM, ODS_SYSTEM } from '../../fhir/identifiers.js';
import type { DemoApi, DemoCaller } from './demo-api.js';
import { OLD_PRACTICE, PRACTICE, STAFF, type CohortPatient, type CohortRole } from './demo-cast.js';
import { SCR } from './demo-scr.js';

const PDS = '/personal-demographics/FHIR/R4';
const EVENTS = '/events/FHIR/R4';
const GP2GP = '/gp2gp/FHIR/R4';
const SECURITY = '/security/FHIR/R4';

const of = (cohort: CohortPatient[], role: CohortRole) => cohort.find((c) => c.role === role)!;

/** The practice's two mailboxes; answered 409 when they exist already, which is as good. */
export async function seedSubscriptions(api: DemoApi): Promise<void> {
  const gp = await api.staff(STAFF.gp);
  const subscriptions = [
    {
      reason: 'Life events and summary records of our registered patients',
      criteria: `/Bundle?type=message&MessageHeader.event=pds-change-of-gp-1,pds-change-of-address-1,pds-death-notification-1,scr-document-uploaded-1,scr-consent-changed-1&Patient.generalPractitioner=${PRACTICE}`,
    },
    {
      reason: 'Status of the prescriptions we issue',
      criteria: `/Bundle?type=message&MessageHeader.event=eps-prescription-status-1&Organization.identifier=${PRACTICE}`,
    },
  ];
  for (const [i, s] of subscriptions.entries())
    await gp.call(`subscription:${i}`, {
      url: `${EVENTS}/Subscription`,
      body: {
        resourceType: 'Subscription',
        status: 'requested',
        ...s,
        channel: { type: 'message' },
      },
      expect: [201, 409],
    });
}

async function patchPatient(
  who: DemoCaller,
  step: string,
  nhs: string,
  patches: (record: any) => unknown[],
): Promise<void> {
  const read = await who.call(`${step}:read`, { url: `${PDS}/Patient/${nhs}` });
  await who.call(`${step}:patch`, {
    method: 'PATCH',
    url: `${PDS}/Patient/${nhs}`,
    contentType: 'application/json-patch+json',
    headers: { 'if-match': String(read.headers.etag) },
    body: { patches: patches(read.body) },
  });
}

/** The receptionist's PDS work: a registration from the old practice and a change of address. */
export async function seedRegistrations(api: DemoApi, cohort: CohortPatient[]): Promise<void> {
  const receptionist = await api.staff(STAFF.receptionist);
  await patchPatient(receptionist, 'pds:register', of(cohort, 'transfer-in').nhs, (record) => [
    { op: 'test', path: '/generalPractitioner/0/id', value: record.generalPractitioner[0].id },
    { op: 'replace', path: '/generalPractitioner/0/identifier/value', value: PRACTICE },
  ]);
  await patchPatient(receptionist, 'pds:address', of(cohort, 'login-triage').nhs, (record) => {
    const at = Math.max(
      0,
      record.address.findIndex((a: any) => a.use === 'home' && !a.period?.end),
    );
    return [
      { op: 'test', path: `/address/${at}/id`, value: record.address[at].id },
      { op: 'replace', path: `/address/${at}/line`, value: ['Flat 3', '27 Preston Park Avenue'] },
    ];
  });
}

function ehr(nhs: string): Record<string, any> {
  const subject = { identifier: { system: NHS_NUMBER_SYSTEM, value: nhs } };
  const resource = (r: Record<string, any>) => ({
    fullUrl: `urn:openspine:demo:${nhs}:${r.id}`,
    resource: r,
  });
  return {
    resourceType: 'Bundle',
    type: 'collection',
    entry: [
      resource({ resourceType: 'Patient', id: 'patient', identifier: [subject.identifier] }),
      resource({
        resourceType: 'Condition',
        id: 'asthma',
        code: {
          coding: [{ system: 'http://snomed.info/sct', code: '195967001', display: 'Asthma' }],
        },
        subject,
      }),
      resource({
        resourceType: 'MedicationStatement',
        id: 'salbutamol',
        status: 'active',
        medicationCodeableConcept: {
          coding: [
            {
              system: 'https://dmd.nhs.uk',
              code: '320176004',
              display: 'Salbutamol 100micrograms/dose inhaler',
            },
          ],
        },
        subject,
      }),
    ],
  };
}

/** The practice requests a new patient's record; the old practice sends it (state `sent`). */
export async function seedTransfer(api: DemoApi, cohort: CohortPatient[]): Promise<string> {
  const gp = await api.staff(STAFF.gp);
  const nhs = of(cohort, 'transfer-sent').nhs;
  const requested = await gp.call('gp2gp:request', {
    url: `${GP2GP}/Task`,
    body: {
      resourceType: 'Task',
      status: 'requested',
      intent: 'order',
      for: { identifier: { system: NHS_NUMBER_SYSTEM, value: nhs } },
      owner: { identifier: { system: ODS_SYSTEM, value: OLD_PRACTICE } },
    },
  });
  const id: string = requested.body.id;
  const oldPractice = await api.system('demo-old-practice-system', 'R8000', OLD_PRACTICE);
  await oldPractice.call('gp2gp:send', {
    url: `${GP2GP}/Task/${id}/$send`,
    body: { resourceType: 'Parameters', parameter: [{ name: 'ehr', resource: ehr(nhs) }] },
  });
  return id;
}

const BREAK_GLASS: { patient: CohortRole; code: string; text: string }[] = [
  {
    patient: 'restricted-emergency',
    code: 'unable-to-consent',
    text: 'Brought to the emergency department unconscious after a fall; allergy history needed',
  },
  {
    patient: 'emergency',
    code: 'life-threatening',
    text: 'Severe asthma attack in resus; current medication needed before treatment',
  },
  {
    patient: 'emergency-2',
    code: 'urgent-care',
    text: 'Admitted overnight with confusion; no referral on record yet',
  },
];

/** The hospital clinician's emergency access, each followed by a read of the summary record. */
export async function seedEmergencyAccess(
  api: DemoApi,
  cohort: CohortPatient[],
): Promise<string[]> {
  const clinician = await api.staff(STAFF.hospital);
  const patients: string[] = [];
  for (const b of BREAK_GLASS) {
    const nhs = of(cohort, b.patient).nhs;
    await clinician.call(`break-glass:${nhs}`, {
      url: `${SECURITY}/$emergency-access`,
      body: {
        resourceType: 'Parameters',
        parameter: [
          { name: 'patient', valueIdentifier: { system: NHS_NUMBER_SYSTEM, value: nhs } },
          { name: 'reasonCode', valueCode: b.code },
          { name: 'reasonText', valueString: b.text },
        ],
      },
    });
    await clinician.call(`break-glass:${nhs}:summary`, { url: `${SCR}/$summary?patient=${nhs}` });
    patients.push(nhs);
  }
  return patients;
}
