/**
 * The practice's e-Referrals to the hospital, through the e-RS API as the demo GP (referring
 * clinician): one awaiting booking whose patient letter (UBRN and password) the patient can use to
 * book it themselves, one awaiting booking with no letter yet, one booked into a free slot, and two
 * sent straight for triage at the hospital's triage clinics (the hospital's review worklist).
 */
import { inflateSync } from 'node:zlib';
import type { DemoApi, DemoCaller } from './demo-api.js';
import { HOSPITAL, PRACTICE, STAFF, type CohortPatient, type CohortRole } from './demo-cast.js';

export const STU3 = '/referrals/FHIR/STU3';
const DIRECTORY = '/spine-directory/FHIR/R4';
const NHS_NUMBER = 'http://fhir.nhs.net/Id/nhs-number';
const ERS_SERVICE = 'http://fhir.nhs.net/Id/ers-service';
const ERS_HEADERS = {
  'nhsd-ers-business-function': 'REFERRING_CLINICIAN',
  'nhsd-end-user-organisation-ods': PRACTICE,
};

type Clinic =
  'Heart Failure Clinic' | 'Lipid Clinic' | 'Dermatology' | 'Food and Drug Allergy Clinic';
const CLINICS: Record<Clinic, { specialty: string; clinicType: string }> = {
  'Heart Failure Clinic': { specialty: 'CARDIOLOGY', clinicType: 'HEART_FAILURE' },
  'Lipid Clinic': { specialty: 'CARDIOLOGY', clinicType: 'LIPID_MANAGEMENT' },
  Dermatology: { specialty: 'DERMATOLOGY', clinicType: 'GENERAL_DERMATOLOGY' },
  'Food and Drug Allergy Clinic': { specialty: 'ALLERGY', clinicType: 'FOOD_AND_DRUG_ALLERGY' },
};

type Outcome = 'awaiting-booking' | 'letter' | 'booked' | 'triage';
const PLANS: { patient: CohortRole; clinic: Clinic; outcome: Outcome }[] = [
  { patient: 'login-awaiting-booking', clinic: 'Heart Failure Clinic', outcome: 'letter' },
  { patient: 'login-booked', clinic: 'Lipid Clinic', outcome: 'booked' },
  { patient: 'login-triage', clinic: 'Dermatology', outcome: 'triage' },
  { patient: 'triage-2', clinic: 'Food and Drug Allergy Clinic', outcome: 'triage' },
  { patient: 'transfer-sent', clinic: 'Heart Failure Clinic', outcome: 'awaiting-booking' },
];

export interface DemoReferral {
  ubrn: string;
  nhs: string;
  state: 'NOT_BOOKED' | 'BOOKED' | 'AWAITING_TRIAGE';
  clinic: string;
  /** The patient letter's password (the referral with a letter only). */
  password?: string;
}

function shortlist(service: string, clinic: Clinic) {
  return {
    name: 'shortlist',
    resource: {
      resourceType: 'List',
      status: 'current',
      mode: 'snapshot',
      contained: [
        {
          resourceType: 'Parameters',
          id: 'ServiceSearchCriteria-1',
          parameter: [
            {
              name: 'priority',
              valueCoding: {
                system: 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-Priority-1',
                code: 'ROUTINE',
              },
            },
            {
              name: 'specialty',
              valueCoding: {
                system: '_baseUrl_/STU3/CodeSystem/SPECIALTY',
                code: CLINICS[clinic].specialty,
              },
            },
            {
              name: 'clinicType',
              valueCoding: {
                system: 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-ClinicType-1',
                code: CLINICS[clinic].clinicType,
              },
            },
            { name: 'ageAndGenderAppropriate', valueBoolean: false },
          ],
        },
      ],
      entry: [{ item: { identifier: { system: ERS_SERVICE, value: service } } }],
      extension: [
        {
          url: 'https://fhir.nhs.uk/STU3/StructureDefinition/Extension-eRS-Shortlist-SearchCriteria-1',
          valueReference: { reference: '#ServiceSearchCriteria-1' },
        },
      ],
    },
  };
}

function createBody(nhs: string, service: string, clinic: Clinic, triage: boolean) {
  return {
    resourceType: 'Parameters',
    parameter: [
      { name: 'patient', valueIdentifier: { system: NHS_NUMBER, value: nhs } },
      {
        name: 'intentionToAddReferralLetter',
        valueCoding: {
          system: 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-ReferralLetterIntention-1',
          code: 'NEED_TO_ADD_LATER',
        },
      },
      { name: 'firstReminderLetterFollowUpDays', valueUnsignedInt: 0 },
      // a pathway that started a week ago (a021 takes none: the triage request starts it)
      ...(triage
        ? []
        : [
            {
              name: 'eReferralPathwayStart',
              valueInstant: new Date(Date.now() - 7 * 86_400_000).toISOString(),
            },
          ]),
      shortlist(service, clinic),
    ],
  };
}

/** The text pdf-lib draws (hex strings shown with Tj, in Flate-compressed content streams). */
export function pdfText(pdf: Buffer): string {
  const raw = pdf.toString('latin1');
  const texts: string[] = [];
  const streams = /stream\r?\n/g;
  for (let m = streams.exec(raw); m; m = streams.exec(raw)) {
    const start = m.index + m[0].length;
    const end = raw.indexOf('endstream', start);
    if (end < 0) break;
    let content: string;
    try {
      content = inflateSync(pdf.subarray(start, end)).toString('latin1');
    } catch {
      content = raw.slice(start, end);
    }
    for (const t of content.matchAll(/<([0-9A-Fa-f]+)>\s*Tj/g))
      texts.push(Buffer.from(t[1], 'hex').toString('latin1'));
  }
  return texts.join('\n');
}

/** The hospital's e-RS clinics by name, from the directory. */
async function hospitalClinics(gp: DemoCaller): Promise<Map<Clinic, string>> {
  const res = await gp.call('directory:clinics', {
    url: `${DIRECTORY}/HealthcareService?organization=${HOSPITAL}&_count=50`,
  });
  const found = new Map<Clinic, string>();
  for (const e of res.body.entry ?? []) {
    const clinic = (Object.keys(CLINICS) as Clinic[]).find((c) =>
      String(e.resource.name).endsWith(c),
    );
    if (clinic) found.set(clinic, e.resource.id);
  }
  for (const c of Object.keys(CLINICS) as Clinic[])
    if (!found.has(c))
      throw new Error(`demo data: ${HOSPITAL} has no e-RS clinic '${c}' in the directory`);
  return found;
}

async function book(gp: DemoCaller, name: string, ubrn: string, service: string, nhs: string) {
  const slots = await gp.call(`${name}:slots`, {
    url: `${STU3}/Slot?schedule.actor:HealthcareService=${service}&appointmentType=ROUTINE&status=free&_count=1&page=1`,
    headers: { ...ERS_HEADERS, 'nhsd-ers-comm-rule-org': 'R69' },
  });
  const slot = (slots.body.entry ?? []).find(
    (e: any) => e.resource.resourceType === 'Slot',
  )?.resource;
  if (!slot) throw new Error(`demo data: no free slot at e-RS service ${service}`);
  await gp.call(`${name}:book`, {
    url: `${STU3}/Appointment`,
    headers: ERS_HEADERS,
    body: {
      resourceType: 'Appointment',
      status: 'booked',
      description: 'e-Referral Appointment',
      start: slot.start,
      end: slot.end,
      slot: [{ reference: `Slot/${slot.id}` }],
      incomingReferral: [{ reference: `ReferralRequest/${ubrn}/_history/1` }],
      participant: [
        { actor: { identifier: { system: ERS_SERVICE, value: service } }, status: 'accepted' },
        { actor: { identifier: { system: NHS_NUMBER, value: nhs } }, status: 'accepted' },
      ],
    },
  });
}

/** Makes the demo referrals; returns them in plan order. */
export async function seedReferrals(
  api: DemoApi,
  cohort: CohortPatient[],
): Promise<DemoReferral[]> {
  const gp = await api.staff(STAFF.gp);
  const clinics = await hospitalClinics(gp);
  const out: DemoReferral[] = [];
  for (const [i, plan] of PLANS.entries()) {
    const nhs = cohort.find((c) => c.role === plan.patient)!.nhs;
    const service = clinics.get(plan.clinic)!;
    const name = `ers:${i}:${plan.outcome}`;
    const triage = plan.outcome === 'triage';
    const created = await gp.call(`${name}:create`, {
      url: `${STU3}/ReferralRequest/${triage ? '$ers.createReferralAndSendForTriage' : '$ers.createReferral'}`,
      headers: ERS_HEADERS,
      body: createBody(nhs, service, plan.clinic, triage),
    });
    const ubrn: string = created.body.id;
    const referral: DemoReferral = {
      ubrn,
      nhs,
      clinic: plan.clinic,
      state: triage ? 'AWAITING_TRIAGE' : plan.outcome === 'booked' ? 'BOOKED' : 'NOT_BOOKED',
    };
    if (plan.outcome === 'booked') await book(gp, name, ubrn, service, nhs);
    if (plan.outcome === 'letter') {
      const letter = await gp.call(`${name}:letter`, {
        url: `${STU3}/ReferralRequest/${ubrn}/$ers.generatePatientLetter`,
        method: 'POST',
        headers: ERS_HEADERS,
      });
      const password = /Password: ([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})/.exec(
        pdfText(letter.raw),
      )?.[1];
      if (!password) throw new Error('demo data: the patient letter shows no password');
      referral.password = password;
    }
    out.push(referral);
  }
  return out;
}
