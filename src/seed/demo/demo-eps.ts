/**
 * The demo pharmacy's day: the demo GP prescribes for the practice's patients ($prepare, sign,
 * $process-message), nominating the demo pharmacy, and the pharmacy moves each prescription to a
 * different state of the EPS state machine through EPS's own messages: to be dispensed, with the
 * dispenser, partly dispensed, dispensed, not dispensed, claimed, cancelled, returned, withdrawn,
 * repeat dispensing (issues in the future) and one past its validity, which EPS's scheduled sweep
 * expires.
 */
import { CompactSign, type CryptoKey } from 'jose';
import type { DemoApi, DemoCaller } from './demo-api.js';
import { PHARMACY, STAFF, type CohortPatient, type CohortRole } from './demo-cast.js';
import type { MedicineName } from './demo-clinical.js';
import {
  cancellationMessage,
  claim,
  demoShortFormId,
  dispenseNotification,
  orderIds,
  orderMessage,
  releaseParameters,
  returnParameters,
  signedMessage,
  withdrawParameters,
  type Course,
  type ItemOutcome,
  type OrderIds,
  type OrderSpec,
} from './demo-eps-messages.js';

export const EPS = '/electronic-prescriptions/FHIR/R4';

/** The state each demo prescription is left in (the tracker's business status). */
export type DemoPrescriptionState =
  | 'to-be-dispensed'
  | 'with-dispenser'
  | 'with-dispenser-active'
  | 'dispensed'
  | 'not-dispensed'
  | 'claimed'
  | 'cancelled'
  | 'returned'
  | 'withdrawn'
  | 'repeat-dispensing'
  | 'past-validity';

interface Plan {
  patient: CohortRole;
  medicines: MedicineName[];
  state: DemoPrescriptionState;
  course?: Course;
}

const PLANS: Plan[] = [
  { patient: 'login-awaiting-booking', medicines: ['amoxicillin'], state: 'to-be-dispensed' },
  {
    patient: 'login-booked',
    medicines: ['atorvastatin', 'amlodipine'],
    state: 'claimed',
    course: 'continuous',
  },
  {
    patient: 'login-triage',
    medicines: ['metformin'],
    state: 'repeat-dispensing',
    course: 'continuous-repeat-dispensing',
  },
  { patient: 'restricted', medicines: ['omeprazole'], state: 'with-dispenser' },
  { patient: 'dissent', medicines: ['azithromycin'], state: 'dispensed' },
  { patient: 'opted-out', medicines: ['paracetamol', 'cocodamol'], state: 'with-dispenser-active' },
  {
    patient: 'restricted-emergency',
    medicines: ['salbutamol', 'paracetamol'],
    state: 'not-dispensed',
  },
  { patient: 'transfer-sent', medicines: ['cocodamol'], state: 'cancelled' },
  { patient: 'emergency', medicines: ['salbutamol'], state: 'returned' },
  { patient: 'triage-2', medicines: ['amlodipine'], state: 'withdrawn', course: 'continuous' },
  { patient: 'emergency-2', medicines: ['paracetamol'], state: 'past-validity' },
  {
    patient: 'login-awaiting-booking',
    medicines: ['salbutamol'],
    state: 'dispensed',
    course: 'continuous',
  },
];

const day = (offset: number) =>
  new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);

export interface DemoPrescription {
  nhs: string;
  shortFormId: string;
  state: DemoPrescriptionState;
}

class Prescribing {
  constructor(
    private readonly gp: DemoCaller,
    private readonly pharmacist: DemoCaller,
    private readonly key: { kid: string; privateKey: CryptoKey },
  ) {}

  /** $prepare, sign the digest with the GP's registered key, $process-message. */
  async prescribe(spec: OrderSpec): Promise<{ ids: OrderIds; signed: unknown }> {
    const order = orderMessage(spec);
    const prepared = await this.gp.call(`${spec.name}:prepare`, {
      url: `${EPS}/$prepare`,
      body: order,
    });
    const params = prepared.body.parameter as {
      name: string;
      valueString?: string;
      resource?: any;
    }[];
    const digest = params.find((p) => p.name === 'digest')!.valueString!;
    // the ids are the demo's own, so $prepare signs off the message as sent
    const message = params.find((p) => p.name === 'message')?.resource ?? order;
    const jws = await new CompactSign(new TextEncoder().encode(digest))
      .setProtectedHeader({ alg: 'ES256', kid: this.key.kid })
      .sign(this.key.privateKey);
    const signed = signedMessage(message, jws, new Date().toISOString());
    await this.gp.call(`${spec.name}:submit`, { url: `${EPS}/$process-message`, body: signed });
    return { ids: orderIds(spec), signed };
  }

  release(name: string, ids: OrderIds) {
    return this.pharmacist.call(`${name}:release`, {
      url: `${EPS}/Task/$release`,
      body: releaseParameters(ids.shortFormId),
    });
  }

  dispense(name: string, ids: OrderIds, nhs: string, outcomes: ItemOutcome[]) {
    return this.pharmacist.call(`${name}:dispense`, {
      url: `${EPS}/$process-message`,
      body: dispenseNotification(name, ids, nhs, PHARMACY, outcomes, new Date().toISOString()),
    });
  }

  async walk(plan: Plan, name: string, nhs: string): Promise<void> {
    const spec: OrderSpec = {
      name,
      nhs,
      prescriber: { userId: STAFF.gp.id, name: STAFF.gp.name, org: STAFF.gp.org },
      pharmacy: PHARMACY,
      medicines: plan.medicines,
      course: plan.course,
      validityStart: plan.state === 'past-validity' ? day(-120) : day(0),
      ...(plan.state === 'past-validity' ? { validityEnd: day(-1) } : {}),
    };
    const { ids, signed } = await this.prescribe(spec);
    const all = (code: ItemOutcome['code'], quantity = 28): ItemOutcome[] =>
      ids.items.map((item) => ({ item, code, quantity }));
    switch (plan.state) {
      case 'to-be-dispensed':
      case 'repeat-dispensing':
      case 'past-validity':
        return;
      case 'cancelled':
        await this.gp.call(`${name}:cancel`, {
          url: `${EPS}/$process-message`,
          body: cancellationMessage(signed as Record<string, any>, name),
        });
        return;
      default:
    }
    await this.release(name, ids);
    switch (plan.state) {
      case 'with-dispenser':
        return;
      case 'returned':
        await this.pharmacist.call(`${name}:return`, {
          url: `${EPS}/Task/$return`,
          body: returnParameters(ids.shortFormId),
        });
        return;
      case 'with-dispenser-active':
        await this.dispense(name, ids, nhs, [
          { item: ids.items[0], code: '0003', quantity: 50 },
          { item: ids.items[1], code: '0004', quantity: 0 },
        ]);
        return;
      case 'not-dispensed':
        await this.dispense(
          name,
          ids,
          nhs,
          ids.items.map((item) => ({ item, code: '0002', quantity: 0, reason: '0004' })),
        );
        return;
      default:
    }
    await this.dispense(name, ids, nhs, all('0001'));
    if (plan.state === 'claimed')
      await this.pharmacist.call(`${name}:claim`, {
        url: `${EPS}/Claim`,
        body: claim(name, ids, nhs),
      });
    if (plan.state === 'withdrawn')
      await this.pharmacist.call(`${name}:withdraw`, {
        url: `${EPS}/Task/$withdraw`,
        body: withdrawParameters(ids.shortFormId),
      });
  }
}

/** Prescribes and moves every demo prescription; returns them in plan order. */
export async function seedPrescriptions(
  api: DemoApi,
  cohort: CohortPatient[],
  key: { kid: string; privateKey: CryptoKey },
): Promise<DemoPrescription[]> {
  const prescribing = new Prescribing(
    await api.staff(STAFF.gp),
    await api.staff(STAFF.pharmacist),
    key,
  );
  const out: DemoPrescription[] = [];
  for (const [i, plan] of PLANS.entries()) {
    const patient = cohort.find((c) => c.role === plan.patient)!;
    const name = `eps:${i}:${plan.state}`;
    await prescribing.walk(plan, name, patient.nhs);
    out.push({
      nhs: patient.nhs,
      shortFormId: demoShortFormId(name, STAFF.gp.org),
      state: plan.state,
    });
  }
  return out;
}
