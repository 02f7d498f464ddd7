import { resourceType, type IndexEntry } from '../../store/resource-store.js';
import type { ItemStatus, PrescriptionStatus, Transition } from './state-machine.js';

/**
 * The stored prescription: one document per issue (type 'EpsPrescription', id
 * `<long-form id>-<issue number>`; acute and repeat-prescribing prescriptions have one issue).
 * The document carries its own event log: every transition appends one event in the same write
 * that changes the status, so the tracker's history can never disagree with the state.
 */
export const PRESCRIPTION = resourceType<EpsPrescription>('EpsPrescription');
/**
 * The signed order message as submitted (id = long-form id), kept so release can hand the dispenser
 * what was signed.
 */
export const PRESCRIPTION_ORDER = 'EpsPrescriptionOrder';

export type PrescriptionType = 'acute' | 'repeat-prescribing' | 'repeat-dispensing';

export interface PrescriptionItem {
  /** The MedicationRequest's prescription-order-item-number. */
  id: string;
  medication: { system: string; code: string; display?: string };
  quantity: { value: number; unit?: string };
  dosage?: string;
  status: ItemStatus;
  /** Quantity supplied so far by current (not withdrawn) dispense notifications. */
  supplied: number;
  /** Why the item was not dispensed or cancelled, when it was. */
  reason?: { code: string; display?: string };
}

export interface DispenseRecord {
  /** The dispense notification's message id (Bundle.identifier). */
  id: string;
  org: string;
  user: string;
  time: string;
  items: {
    itemId: string;
    status: ItemStatus;
    quantity: number;
    reason?: { code: string; display?: string };
  }[];
  withdrawn?: { time: string; reason: string };
}

export interface PrescriptionEvent {
  seq: number;
  transition: Transition;
  from: PrescriptionStatus | null;
  to: PrescriptionStatus;
  time: string;
  org: string;
  user: string;
  /** What the message said: reasons, items changed, the dispense notification id ... */
  detail?: Record<string, unknown>;
}

export interface EpsPrescription {
  resourceType: typeof PRESCRIPTION;
  id: string;
  longFormId: string;
  shortFormId: string;
  nhsNumber: string;
  type: PrescriptionType;
  issue: { number: number; of: number };
  prescriber: { org: string; user: string };
  /** The pharmacy the patient nominated on PDS when this was prescribed (its queue gets it). */
  nominatedPharmacy?: string;
  /** The pharmacy holding it (released to), while it is with one and after it dispensed. */
  dispenser?: string;
  status: PrescriptionStatus;
  items: PrescriptionItem[];
  /** ISO date the issue may first be released (later repeat-dispensing issues). */
  availableFrom: string;
  /** ISO date after which it expires. */
  expires: string;
  /** Canonical digest the prescriber signed. */
  digest: string;
  created: string;
  dispenses: DispenseRecord[];
  claim?: {
    id: string;
    org: string;
    time: string;
    endorsements: { itemId: string; codes: string[] }[];
  };
  events: PrescriptionEvent[];
}

export const prescriptionId = (longFormId: string, issue: number) => `${longFormId}-${issue}`;

/** Open (not settled) states: the ones the expiry sweep looks at. */
const OPEN: readonly PrescriptionStatus[] = [
  'future',
  'to-be-dispensed',
  'with-dispenser',
  'with-dispenser-active',
];

export function prescriptionIndex(p: EpsPrescription): IndexEntry[] {
  const index: IndexEntry[] = [
    { param: 'short-form', value: p.shortFormId },
    { param: 'long-form', value: p.longFormId },
    { param: 'patient', value: p.nhsNumber },
    { param: 'status', value: p.status },
  ];
  if (p.nominatedPharmacy && p.status === 'to-be-dispensed')
    index.push({ param: 'queue', value: p.nominatedPharmacy });
  if (p.dispenser) index.push({ param: 'dispenser', value: p.dispenser });
  if (OPEN.includes(p.status)) index.push({ param: 'expires-open', value: p.expires });
  if (p.status === 'future') index.push({ param: 'available-from', value: p.availableFrom });
  // the request that last released it (release-service.ts), for that request's retry
  const released = [...p.events].reverse().find((e) => e.transition === 'released');
  if (typeof released?.detail?.request === 'string')
    index.push({ param: 'released-by', value: released.detail.request });
  return index;
}
