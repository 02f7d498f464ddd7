import type { Bundle, BundleEntry, FhirResource, Patient, Reference } from 'fhir/r4.js';
import { isRestricted } from '../pds/index.js';
import {
  CHOICES,
  CONSENT_CHOICE_SYSTEM,
  CONSENT_SCOPE,
  CONSENT_SCOPE_SYSTEM,
  isChoiceCode,
} from '../scr/index.js';
import { DENIES } from '../scr/index.js';
import { derivedId } from './derived-id.js';
import type { LifeEvent } from './life-event.js';
import { NHS_NUMBER_SYSTEM, ODS_SYSTEM } from '../../fhir/identifiers.js';

/**
 * The event message a subscriber receives: a FHIR Bundle of type 'message' whose MessageHeader
 * names the event (eventCoding), and whose Patient is identified by NHS Number and carries the facts
 * the event is about. Its id and every entry id derive from the event id, so every copy of one event
 * (to any subscriber, on any retry) is the same Bundle and subscribers can drop one seen before. A
 * restricted (R/V) patient's address and practice never leave in an event.
 */

const MESSAGE_EVENT_TYPE_URL =
  'https://fhir.nhs.uk/StructureDefinition/Extension-Spine-MessageEventType';

const org = (ods: string): Reference => ({ identifier: { system: ODS_SYSTEM, value: ods } });
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

export function eventBundleId(eventId: string): string {
  return derivedId('bundle', eventId);
}

function patientResource(event: LifeEvent, stored: Patient | null): Patient {
  const b = event.body;
  const restricted = stored ? isRestricted(stored) : false;
  const patient: Patient = {
    resourceType: 'Patient',
    id: event.nhsNumber,
    identifier: [{ system: NHS_NUMBER_SYSTEM, value: event.nhsNumber }],
  };
  if (typeof b.version === 'number') patient.meta = { versionId: String(b.version) };
  if (restricted)
    patient.meta = {
      ...patient.meta,
      security: [
        {
          system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality',
          code: 'R',
          display: 'restricted',
        },
      ],
    };
  const current = (b.current ?? {}) as Record<string, any>;
  switch (event.topic) {
    case 'pds.patient.birth':
      if (str(current.birthDate)) patient.birthDate = current.birthDate;
      if (str(current.gender)) patient.gender = current.gender;
      if (!restricted && str(current.practice))
        patient.generalPractitioner = [org(current.practice)];
      if (!restricted && current.address) patient.address = [{ use: 'home', ...current.address }];
      break;
    case 'pds.patient.death':
      if (str(current.deceasedDateTime)) patient.deceasedDateTime = current.deceasedDateTime;
      else if (current.deceasedBoolean === true) patient.deceasedBoolean = true;
      break;
    case 'pds.patient.address-change':
      if (!restricted && current.address) patient.address = [{ use: 'home', ...current.address }];
      break;
    case 'pds.patient.gp-change':
      if (!restricted && str(b.practice)) patient.generalPractitioner = [org(b.practice as string)];
      break;
    case 'pds.patient.merge':
      if (str(b.supersededNhsNumber))
        patient.link = [
          {
            type: 'replaces',
            other: {
              identifier: { system: NHS_NUMBER_SYSTEM, value: b.supersededNhsNumber as string },
            },
          },
        ];
      break;
  }
  return patient;
}

/** Resources beyond the Patient that the event is about. */
function detailResources(
  event: LifeEvent,
  patientRef: Reference,
  restricted: boolean,
): FhirResource[] {
  const b = event.body;
  const id = (what: string) => derivedId(what, event.eventId);
  if (event.topic === 'pds.patient.gp-change' && !restricted && str(b.previousPractice)) {
    // NEMS: the practice left is the managing organisation of a finished primary-care episode
    return [
      {
        resourceType: 'EpisodeOfCare',
        id: id('episode'),
        status: 'finished',
        patient: patientRef,
        managingOrganization: org(b.previousPractice as string),
        type: [
          {
            coding: [
              {
                system: 'https://fhir.nhs.uk/STU3/CodeSystem/EMS-PDS-PatientCareProvisionType-1',
                code: '1',
                display: 'Primary care',
              },
            ],
          },
        ],
        period: { end: event.time },
      },
    ];
  }
  if (event.topic === 'scr.document.uploaded') {
    return [
      {
        resourceType: 'DocumentReference',
        id: str(b.documentId) ?? id('document'),
        status: 'current',
        subject: patientRef,
        date: event.time,
        ...(str(b.authorOrg) ? { author: [org(b.authorOrg as string)] } : {}),
        type: {
          coding: [
            {
              system: 'http://snomed.info/sct',
              code: '196981000000101',
              display: 'General Practice Summary',
            },
          ],
        },
        content: [
          {
            attachment: {
              contentType: 'application/fhir+json',
              url: `Bundle/${str(b.documentId) ?? ''}`,
            },
          },
        ],
      },
    ];
  }
  if (event.topic === 'scr.consent.changed') {
    // as SCR stores it (src/services/scr/consent-resource.ts): the choice is the policy rule, which
    // FHIR R4 requires of every Consent (ppc-1: policy or policyRule), and the provision permits or denies
    const code = str(b.to);
    const choice = {
      system: CONSENT_CHOICE_SYSTEM,
      code: code ?? 'unknown',
      ...(code && isChoiceCode(code) ? { display: CHOICES[code].display } : {}),
    };
    return [
      {
        resourceType: 'Consent',
        id: str(b.consentId) ?? id('consent'),
        status: 'active',
        patient: patientRef,
        dateTime: event.time,
        scope: {
          coding: [
            { system: CONSENT_SCOPE_SYSTEM, code: CONSENT_SCOPE, display: 'Privacy Consent' },
          ],
        },
        category: [
          { coding: [{ system: 'http://loinc.org', code: '59284-0', display: 'Patient Consent' }] },
        ],
        policyRule: { coding: [choice] },
        ...(code && isChoiceCode(code)
          ? {
              provision: {
                type: DENIES.has(code) ? ('deny' as const) : ('permit' as const),
                code: [{ coding: [choice] }],
              },
            }
          : {}),
      },
    ];
  }
  if (event.topic.startsWith('eps.prescription.')) {
    return [
      {
        resourceType: 'Task',
        id: id('task'),
        status: 'completed',
        intent: 'order',
        for: patientRef,
        lastModified: event.time,
        businessStatus: {
          coding: [
            {
              system: 'https://openspine.dev/CodeSystem/prescription-status',
              code: str(b.status) ?? event.topic.slice('eps.prescription.'.length),
            },
          ],
        },
        ...(str(b.prescriptionId)
          ? {
              focus: {
                identifier: {
                  system: 'https://fhir.nhs.uk/Id/prescription',
                  value: b.prescriptionId as string,
                },
              },
            }
          : {}),
        ...(str(b.shortFormId)
          ? {
              groupIdentifier: {
                system: 'https://fhir.nhs.uk/Id/prescription-order-number',
                value: b.shortFormId as string,
              },
            }
          : {}),
        ...(str(b.organisation) ? { owner: org(b.organisation as string) } : {}),
      },
    ];
  }
  return [];
}

/** The event message for one event; `stored` is the patient's PDS record (for restriction), when there is one. */
export function eventBundle(event: LifeEvent, stored: Patient | null, publicUrl: string): Bundle {
  const patient = patientResource(event, stored);
  const patientUrl = `${publicUrl}/personal-demographics/FHIR/R4/Patient/${event.nhsNumber}`;
  const patientRef: Reference = {
    reference: patientUrl,
    identifier: { system: NHS_NUMBER_SYSTEM, value: event.nhsNumber },
  };
  const details = detailResources(event, patientRef, stored ? isRestricted(stored) : false);
  const headerId = derivedId('header', event.eventId);
  const entry: BundleEntry[] = [
    {
      fullUrl: `urn:uuid:${headerId}`,
      resource: {
        resourceType: 'MessageHeader',
        id: headerId,
        meta: { lastUpdated: event.time },
        extension: [
          {
            url: MESSAGE_EVENT_TYPE_URL,
            valueCodeableConcept: {
              coding: [
                {
                  system: 'https://fhir.nhs.uk/CodeSystem/message-event-type',
                  code: 'new',
                  display: 'New event message',
                },
              ],
            },
          },
        ],
        eventCoding: event.code,
        source: { name: 'OpenSpine', endpoint: publicUrl },
        focus: [{ reference: patientUrl }],
      },
    },
    { fullUrl: patientUrl, resource: patient },
    ...details.map((r) => ({ fullUrl: `urn:uuid:${r.id}`, resource: r })),
  ];
  return {
    resourceType: 'Bundle',
    id: eventBundleId(event.eventId),
    meta: { lastUpdated: event.time },
    type: 'message',
    timestamp: event.time,
    entry,
  };
}
