/**
 * The one state machine of a prescription (one issue of it) and its line items. Every message EPS
 * accepts is a transition; `allowedFrom` says in which prescription states it may happen, and
 * anything else is refused with the current state named, before anything is written.
 * Business status codes are those of the EPS task business status code system.
 */
export const PRESCRIPTION_STATUSES = {
  'to-be-dispensed': { code: '0001', display: 'To Be Dispensed' },
  'with-dispenser': { code: '0002', display: 'With Dispenser' },
  'with-dispenser-active': { code: '0003', display: 'With Dispenser - Active' },
  expired: { code: '0004', display: 'Expired' },
  cancelled: { code: '0005', display: 'Cancelled' },
  dispensed: { code: '0006', display: 'Dispensed' },
  'not-dispensed': { code: '0007', display: 'Not Dispensed' },
  claimed: { code: '0008', display: 'Claimed' },
  /** A later issue of a repeat-dispensing prescription, not yet due. */
  future: { code: '9000', display: 'Future Dated Prescription' },
} as const;
export type PrescriptionStatus = keyof typeof PRESCRIPTION_STATUSES;

/** Line-item statuses (medicationdispense-type codes, plus the states an item has before any dispense). */
export const ITEM_STATUSES = {
  dispensed: { code: '0001', display: 'Item fully dispensed' },
  'not-dispensed': { code: '0002', display: 'Item not dispensed' },
  partial: { code: '0003', display: 'Item dispensed - partial' },
  owing: { code: '0004', display: 'Item not dispensed owing' },
  cancelled: { code: '0005', display: 'Item Cancelled' },
  expired: { code: '0006', display: 'Expired' },
  'to-be-dispensed': { code: '0007', display: 'Item to be dispensed' },
  'with-dispenser': { code: '0008', display: 'Item with dispenser' },
} as const;
export type ItemStatus = keyof typeof ITEM_STATUSES;

/**
 * 'cancellation-requested': a cancellation that arrived while the issue is with a dispenser. The
 * status does not change; the issue is marked for cancellation (the event records by whom), as
 * EPS publishes (R-0002 / R-0003: "not cancelled ... Marked for cancellation").
 */
export type Transition =
  | 'created'
  | 'available'
  | 'released'
  | 'returned'
  | 'dispensed'
  | 'withdrawn'
  | 'claimed'
  | 'cancelled'
  | 'cancellation-requested'
  | 'expired';

/** The prescription states each transition may start from ('created' starts from nothing). */
export const ALLOWED_FROM: Readonly<
  Record<Exclude<Transition, 'created'>, readonly PrescriptionStatus[]>
> = {
  available: ['future'],
  released: ['to-be-dispensed'],
  returned: ['with-dispenser'],
  dispensed: ['with-dispenser', 'with-dispenser-active'],
  withdrawn: ['with-dispenser-active', 'dispensed', 'not-dispensed'],
  claimed: ['dispensed', 'not-dispensed'],
  cancelled: ['future', 'to-be-dispensed'],
  'cancellation-requested': ['with-dispenser', 'with-dispenser-active'],
  expired: ['future', 'to-be-dispensed', 'with-dispenser', 'with-dispenser-active'],
};

/** What a message is called in refusals. */
export const MESSAGE_NAMES: Readonly<Record<Exclude<Transition, 'created'>, string>> = {
  available: 'issue becoming available',
  released: 'release request',
  returned: 'return',
  dispensed: 'dispense notification',
  withdrawn: 'dispense notification withdrawal',
  claimed: 'claim',
  cancelled: 'cancellation',
  'cancellation-requested': 'cancellation request',
  expired: 'expiry',
};

export function mayHappen(
  transition: Exclude<Transition, 'created'>,
  from: PrescriptionStatus,
): boolean {
  return ALLOWED_FROM[transition].includes(from);
}

/** States after which nothing but (for dispensed ones) withdrawal or claim can happen. */
export const TERMINAL: readonly PrescriptionStatus[] = ['expired', 'cancelled', 'claimed'];

/** Items whose outcome is settled: they take no further dispensing. */
export const SETTLED_ITEMS: readonly ItemStatus[] = [
  'dispensed',
  'not-dispensed',
  'cancelled',
  'expired',
];

/**
 * The prescription status a set of item outcomes adds up to while it is with a dispenser: all
 * settled and any dispensed -> dispensed; all settled and none dispensed -> not dispensed; some
 * supplied but not all settled -> with dispenser, active; nothing supplied yet -> with dispenser.
 */
export function statusFromItems(items: readonly ItemStatus[]): PrescriptionStatus {
  const live = items.filter((s) => s !== 'cancelled');
  if (live.length > 0 && live.every((s) => SETTLED_ITEMS.includes(s)))
    return live.some((s) => s === 'dispensed') ? 'dispensed' : 'not-dispensed';
  if (
    live.some((s) => s === 'partial' || s === 'owing' || s === 'dispensed' || s === 'not-dispensed')
  )
    return 'with-dispenser-active';
  return 'with-dispenser';
}
