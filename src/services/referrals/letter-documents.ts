/**
 * What the e-Referral Service's printed documents say: the clinical information summary of a
 * referral and its letter (a007) and the patient's letter with the UBRN and booking password
 * (a019), as document specs for letter-pdf.ts. Only facts of the referral and the patient's name
 * and date of birth are printed: never an address; and for a restricted patient any of their
 * location values a referral holds (the referrer is often their GP practice) is withheld
 * (letter-pdf.ts `releasedFor`), as in every JSON answer.
 */
import type { Patient } from 'fhir/r4.js';
import type { StoredResource } from '../../store/resource-store.js';
import { releasedFor, type PdfDocumentSpec, type PdfSection } from './letter-pdf.js';
import {
  CLINICAL_INFO_FIRST_URL,
  CLINICAL_INFO_LAST_URL,
  letterDocuments,
} from './letter-model.js';
import {
  PATHWAY_START_URL,
  PRIORITY_URL,
  patientOf,
  referrerOf,
  stateOf,
  STATE_DISPLAY,
  type ReferralRequest,
} from './referral-model.js';
import { publishedState } from './referral-transitions.js';

const nameOf = (patient: Patient | undefined): string => {
  const name = patient?.name?.find((n) => n.use === 'usual') ?? patient?.name?.[0];
  const text = [...(name?.prefix ?? []), ...(name?.given ?? []), name?.family ?? '']
    .join(' ')
    .trim();
  return text || 'Patient';
};

/** NHS Numbers are printed 3 3 4, as on NHS letters. */
const nhsNumberShown = (nhs: string): string =>
  /^\d{10}$/.test(nhs) ? `${nhs.slice(0, 3)} ${nhs.slice(3, 6)} ${nhs.slice(6)}` : nhs;

const extensionValue = (
  referral: ReferralRequest,
  url: string,
  key: string,
): string | undefined => {
  const v = referral.extension.find((e) => e.url === url)?.[key];
  return typeof v === 'string' ? v : undefined;
};

const priorityOf = (referral: ReferralRequest): string | undefined => {
  const c = referral.extension.find((e) => e.url === PRIORITY_URL)?.valueCodeableConcept as
    { coding?: { code?: string; display?: string }[] } | undefined;
  return c?.coding?.[0]?.display ?? c?.coding?.[0]?.code;
};

const shortlistOf = (referral: ReferralRequest): string[] => {
  const list = (referral.contained ?? []).find((c) => c.id === 'shortlist') as
    { entry?: { item?: { display?: string; identifier?: { value?: string } } }[] } | undefined;
  return (list?.entry ?? []).map((e) => {
    const id = e.item?.identifier?.value ?? '';
    return e.item?.display ? `${e.item.display} (service ${id})` : `Service ${id}`;
  });
};

const stateShown = (referral: ReferralRequest): string => {
  const state = publishedState(stateOf(referral)) as keyof typeof STATE_DISPLAY;
  return STATE_DISPLAY[state] ?? state;
};

function patientSection(referral: ReferralRequest, patient: Patient | undefined): PdfSection {
  return {
    heading: 'Patient',
    lines: [
      { label: 'Name', value: nameOf(patient) },
      { label: 'NHS Number', value: nhsNumberShown(patientOf(referral)) },
      ...(patient?.birthDate ? [{ label: 'Date of birth', value: patient.birthDate }] : []),
    ],
  };
}

/** a007: the referral and its letter files (not their content: those are read through a006). */
export function clinicalSummary(
  stored: StoredResource<ReferralRequest>,
  patient: Patient | undefined,
  now: Date,
): PdfDocumentSpec {
  const r = stored.resource;
  const files = letterDocuments(r);
  return releasedFor(
    {
      title: 'Clinical Information Summary',
      subject: `e-Referral ${r.id}`,
      created: now,
      sections: [
        {
          heading: 'Referral',
          lines: [
            { label: 'UBRN', value: r.id },
            { label: 'Status', value: stateShown(r) },
            { label: 'Referral version', value: String(stored.version) },
            { label: 'Priority', value: priorityOf(r) ?? 'Not given' },
            { label: 'Referring organisation (ODS)', value: referrerOf(r) },
            ...optional('Pathway start', extensionValue(r, PATHWAY_START_URL, 'valueInstant')),
            ...optional(
              'Clinical information first submitted',
              extensionValue(r, CLINICAL_INFO_FIRST_URL, 'valueDateTime'),
            ),
            ...optional(
              'Clinical information last updated',
              extensionValue(r, CLINICAL_INFO_LAST_URL, 'valueDateTime'),
            ),
          ],
        },
        patientSection(r, patient),
        {
          heading: 'Shortlisted services',
          lines: shortlistOf(r).map((value) => ({ value })),
        },
        {
          heading: `Referral letter (${files.length} file${files.length === 1 ? '' : 's'})`,
          lines: files.length
            ? files.flatMap((d) => {
                const a = d.content[0]?.attachment ?? {};
                return [
                  {
                    value: `${a.title} (${a.contentType}, ${a.size} bytes, ${a.url}), attached ${a.creation}`,
                  },
                  ...(d.description ? [{ value: `    ${d.description}` }] : []),
                ];
              })
            : [{ value: 'No referral letter has been attached yet.' }],
        },
        {
          lines: [{ value: `Generated ${now.toISOString()} by the NHS e-Referral Service.` }],
        },
      ],
    },
    patient,
  );
}

/**
 * a019: the patient's letter: their referral's UBRN and the password that, with it, lets them
 * manage the referral themselves. The password is printed here and nowhere else.
 */
export function patientLetter(
  stored: StoredResource<ReferralRequest>,
  patient: Patient | undefined,
  password: string,
  now: Date,
): PdfDocumentSpec {
  const r = stored.resource;
  const services = shortlistOf(r);
  return releasedFor(
    {
      title: 'Your NHS e-Referral',
      subject: `e-Referral ${r.id} patient letter`,
      created: now,
      sections: [
        {
          lines: [
            { value: `Dear ${nameOf(patient)},` },
            {
              value:
                'You have been referred for NHS care. Use the booking reference number and password ' +
                'below to book, change or cancel your appointment, or to manage your referral online.',
            },
          ],
        },
        {
          heading: 'Your referral',
          lines: [
            { label: 'Booking reference number (UBRN)', value: r.id, emphasis: true },
            { label: 'Password', value: password, emphasis: true },
            { label: 'NHS Number', value: nhsNumberShown(patientOf(r)) },
            { label: 'Status', value: stateShown(r) },
            ...optional('Priority', priorityOf(r)),
          ],
        },
        {
          heading: 'Services you can choose from',
          lines: services.length
            ? services.map((value) => ({ value }))
            : [{ value: 'Your GP practice will tell you where you can be seen.' }],
        },
        {
          heading: 'Keep this letter safe',
          lines: [
            {
              value:
                'Your password is shown only on this letter. If you lose it, ask your GP practice for ' +
                'a new letter: the new password replaces this one. After several wrong passwords your ' +
                'referral is locked until a new letter is printed.',
            },
            { value: `Printed ${now.toISOString().slice(0, 10)}.` },
          ],
        },
      ],
    },
    patient,
  );
}

function optional(label: string, value: string | undefined): PdfSection['lines'] {
  return value ? [{ label, value }] : [];
}
