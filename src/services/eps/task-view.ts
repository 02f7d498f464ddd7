import type { Bundle, Extension, Task } from 'fhir/r4.js';
import {
  ORDER_ITEM_SYSTEM,
  ORDER_NUMBER_SYSTEM,
  PRESCRIPTION_ID_SYSTEM,
} from './message-bundle.js';
import type { EpsPrescription } from './prescription-model.js';
import { ITEM_STATUSES, PRESCRIPTION_STATUSES, type PrescriptionStatus } from './state-machine.js';
import { NHS_NUMBER_SYSTEM, ODS_SYSTEM } from '../../fhir/identifiers.js';

/**
 * How a prescription issue is shown (tracker, and the answer to every message): a FHIR Task
 * whose focus is the prescription, businessStatus the EPS status, input the line items with their
 * statuses, and the full status history as extensions, oldest first.
 */
export const BUSINESS_STATUS_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/EPS-task-business-status';
export const ITEM_STATUS_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/medicationdispense-type';
const EXT = 'https://openspine.dev/fhir/StructureDefinition/';
const NHS_EXT = 'https://fhir.nhs.uk/StructureDefinition/';
const MESSAGE_EVENT = 'https://fhir.nhs.uk/CodeSystem/message-event';
const COURSE_OF_THERAPY = 'https://fhir.nhs.uk/CodeSystem/medicationrequest-course-of-therapy';

/** OpenSpine's prescription types as NHS England codes them (medicationrequest-course-of-therapy). */
const COURSE: Record<EpsPrescription['type'], { code: string; display: string }> = {
  acute: { code: 'acute', display: 'Short course (acute) therapy' },
  'repeat-prescribing': { code: 'continuous', display: 'Continuous long term therapy' },
  'repeat-dispensing': {
    code: 'continuous-repeat-dispensing',
    display: 'Continuous long term (repeat dispensing)',
  },
};

/** When the item was last reported supplied by a standing dispense notification. */
function lastDispensed(p: EpsPrescription, itemId: string): string | undefined {
  return p.dispenses
    .filter((d) => !d.withdrawn && d.items.some((i) => i.itemId === itemId && i.quantity > 0))
    .at(-1)?.time;
}

const TASK_STATUS: Record<PrescriptionStatus, Task['status']> = {
  future: 'on-hold',
  'to-be-dispensed': 'ready',
  'with-dispenser': 'in-progress',
  'with-dispenser-active': 'in-progress',
  dispensed: 'completed',
  'not-dispensed': 'completed',
  claimed: 'completed',
  cancelled: 'cancelled',
  expired: 'failed',
};

const coding = (system: string, code: string, display?: string) => ({
  coding: [{ system, code, ...(display ? { display } : {}) }],
});
const ods = (code: string) => ({ identifier: { system: ODS_SYSTEM, value: code } });

function historyExtension(p: EpsPrescription): Extension[] {
  return p.events.map((e) => ({
    url: EXT + 'eps-status-history',
    extension: [
      { url: 'seq', valueInteger: e.seq },
      { url: 'transition', valueCode: e.transition },
      ...(e.from ? [{ url: 'from', valueCode: e.from }] : []),
      { url: 'to', valueCode: e.to },
      { url: 'time', valueDateTime: e.time },
      ...(e.org ? [{ url: 'organisation', valueString: e.org }] : []),
      { url: 'user', valueString: e.user },
      ...(e.detail ? [{ url: 'detail', valueString: JSON.stringify(e.detail) }] : []),
    ],
  }));
}

export function taskFor(p: EpsPrescription): Task {
  const status = PRESCRIPTION_STATUSES[p.status];
  return {
    resourceType: 'Task',
    id: p.id,
    identifier: [{ system: PRESCRIPTION_ID_SYSTEM, value: p.longFormId }],
    status: TASK_STATUS[p.status],
    businessStatus: coding(BUSINESS_STATUS_SYSTEM, status.code, status.display),
    intent: 'order',
    code: coding(MESSAGE_EVENT, 'prescription-order', 'Prescription Order'),
    focus: { identifier: { system: ORDER_NUMBER_SYSTEM, value: p.shortFormId } },
    for: { identifier: { system: NHS_NUMBER_SYSTEM, value: p.nhsNumber } },
    authoredOn: p.created,
    lastModified: p.events[p.events.length - 1]?.time ?? p.created,
    requester: ods(p.prescriber.org),
    ...(p.dispenser
      ? { owner: ods(p.dispenser) }
      : p.nominatedPharmacy
        ? { owner: ods(p.nominatedPharmacy) }
        : {}),
    restriction: { period: { start: p.availableFrom, end: p.expires } },
    extension: [
      {
        url: NHS_EXT + 'Extension-EPS-Prescription',
        extension: [
          {
            url: 'courseOfTherapyType',
            valueCoding: { system: COURSE_OF_THERAPY, ...COURSE[p.type] },
          },
        ],
      },
      ...(p.type === 'acute'
        ? []
        : [
            {
              url: NHS_EXT + 'Extension-EPS-RepeatInformation',
              extension: [
                { url: 'numberOfRepeatsAllowed', valueUnsignedInt: p.issue.of },
                { url: 'numberOfRepeatsIssued', valueUnsignedInt: p.issue.number },
              ],
            },
          ]),
      {
        url: EXT + 'eps-issue',
        extension: [
          { url: 'number', valueInteger: p.issue.number },
          { url: 'of', valueInteger: p.issue.of },
        ],
      },
      ...(p.nominatedPharmacy
        ? [
            {
              url: EXT + 'eps-nominated-pharmacy',
              valueIdentifier: { system: ODS_SYSTEM, value: p.nominatedPharmacy },
            },
          ]
        : []),
      ...historyExtension(p),
    ],
    input: p.items.map((item) => ({
      type: coding(
        ITEM_STATUS_SYSTEM,
        ITEM_STATUSES[item.status].code,
        ITEM_STATUSES[item.status].display,
      ),
      valueReference: {
        identifier: { system: ORDER_ITEM_SYSTEM, value: item.id },
        display: item.medication.display ?? item.medication.code,
      },
      extension: [
        {
          url: NHS_EXT + 'Extension-EPS-DispensingInformation',
          extension: [
            {
              url: 'dispenseStatus',
              valueCoding: {
                system: ITEM_STATUS_SYSTEM,
                code: ITEM_STATUSES[item.status].code,
                display: ITEM_STATUSES[item.status].display,
              },
            },
            ...(lastDispensed(p, item.id)
              ? [{ url: 'dateLastDispensed', valueDateTime: lastDispensed(p, item.id) }]
              : []),
          ],
        },
        { url: EXT + 'eps-item-status', valueCode: item.status },
        {
          url: EXT + 'eps-item-supplied',
          valueQuantity: {
            value: item.supplied,
            ...(item.quantity.unit ? { unit: item.quantity.unit } : {}),
          },
        },
        ...(item.reason
          ? [
              {
                url: EXT + 'eps-item-reason',
                valueCoding: {
                  code: item.reason.code,
                  ...(item.reason.display ? { display: item.reason.display } : {}),
                },
              },
            ]
          : []),
      ],
    })),
  };
}

export function taskBundle(
  issues: EpsPrescription[],
  baseUrl: string,
  type: 'searchset' | 'collection' = 'searchset',
): Bundle {
  return {
    resourceType: 'Bundle',
    type,
    timestamp: new Date().toISOString(),
    ...(type === 'searchset' ? { total: issues.length } : {}),
    entry: issues.map((p) => ({ fullUrl: `${baseUrl}/Task/${p.id}`, resource: taskFor(p) })),
  };
}
