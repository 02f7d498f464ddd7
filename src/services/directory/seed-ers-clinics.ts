/**
 * The demo directory's e-Referral clinics: every acute trust (RO197) offers the same six clinics on
 * e-RS, at the trust's address, so a referrer anywhere in the demo data finds clinics of each kind
 * and the distance between patient and clinic decides the order:
 * - Heart Failure and Lipid clinics (CARDIOLOGY): directly bookable (slots on e-RS);
 * - Food and Drug Allergy (ALLERGY): triage, taking advice and guidance requests;
 * - Dermatology: triage, taking two-week-wait referrals and advice and guidance;
 * - General Surgery (hernia): indirectly bookable (the patient telephones the provider);
 * - Adult Audiology (AUDIOLOGICAL_MEDICINE): directly bookable, restricted to the GP practices of
 *   the trust's own town (the demo clinician's practice stands in Brighton, so it finds Brighton's).
 * CARDIOLOGY, HEART_FAILURE, LIPID_MANAGEMENT, ALLERGY, FOOD_AND_DRUG_ALLERGY,
 * AUDIOLOGICAL_MEDICINE and GENERAL_ADULT_AUDIOLOGICAL_MEDICINE are codes the published e-RS examples
 * use; DERMATOLOGY, GENERAL_SURGERY, GENERAL_DERMATOLOGY and HERNIA are OpenSpine's spellings in the
 * same style. Ids and indicative waits are derived from the trust's code (stableId), so re-seeding
 * finds what it wrote before.
 */
import { createHash } from 'node:crypto';
import type { ErsProfile } from './ers-profile.js';
import type { ServiceFacts } from './healthcare-service-model.js';
import type { OrganisationFacts } from './organization-model.js';

interface Clinic {
  kind: string;
  name: string;
  profile: Omit<ErsProfile, 'restrictedTo' | 'waitDays'>;
  /** Indicative wait range in days (drawn per trust), or none published. */
  wait?: [number, number];
  localOnly?: boolean;
}

const ROUTINE_URGENT: ErsProfile['priorities'] = ['ROUTINE', 'URGENT'];

export const DEMO_ERS_CLINICS: readonly Clinic[] = [
  {
    kind: 'heart-failure',
    name: 'Heart Failure Clinic',
    profile: {
      specialty: 'CARDIOLOGY',
      clinicTypes: ['HEART_FAILURE'],
      flow: 'BOOKABLE',
      bookable: 'DIRECTLY_BOOKABLE',
      priorities: ROUTINE_URGENT,
      adviceAndGuidance: false,
    },
    wait: [7, 42],
  },
  {
    kind: 'lipid',
    name: 'Lipid Clinic',
    profile: {
      specialty: 'CARDIOLOGY',
      clinicTypes: ['LIPID_MANAGEMENT'],
      flow: 'BOOKABLE',
      bookable: 'DIRECTLY_BOOKABLE',
      priorities: ROUTINE_URGENT,
      adviceAndGuidance: true,
    },
    wait: [14, 70],
  },
  {
    kind: 'allergy',
    name: 'Food and Drug Allergy Clinic',
    profile: {
      specialty: 'ALLERGY',
      clinicTypes: ['FOOD_AND_DRUG_ALLERGY'],
      flow: 'TRIAGE',
      priorities: ROUTINE_URGENT,
      adviceAndGuidance: true,
    },
  },
  {
    kind: 'dermatology',
    name: 'Dermatology',
    profile: {
      specialty: 'DERMATOLOGY',
      clinicTypes: ['GENERAL_DERMATOLOGY'],
      flow: 'TRIAGE',
      priorities: ['ROUTINE', 'URGENT', 'TWO_WEEK_WAIT'],
      adviceAndGuidance: true,
    },
  },
  {
    kind: 'general-surgery',
    name: 'General Surgery (Hernia)',
    profile: {
      specialty: 'GENERAL_SURGERY',
      clinicTypes: ['HERNIA'],
      flow: 'BOOKABLE',
      bookable: 'INDIRECTLY_BOOKABLE',
      priorities: ['ROUTINE'],
      adviceAndGuidance: false,
    },
    wait: [28, 126],
  },
  {
    kind: 'audiology',
    name: 'Adult Audiology',
    profile: {
      specialty: 'AUDIOLOGICAL_MEDICINE',
      clinicTypes: ['GENERAL_ADULT_AUDIOLOGICAL_MEDICINE'],
      flow: 'BOOKABLE',
      bookable: 'DIRECTLY_BOOKABLE',
      priorities: ROUTINE_URGENT,
      adviceAndGuidance: false,
    },
    wait: [10, 35],
    localOnly: true,
  },
];

/** A number in [low, high] derived from a name (no randomness: the same trust, the same wait). */
function drawn(name: string, [low, high]: [number, number]): number {
  const n = createHash('sha1').update(name).digest().readUInt32BE(0);
  return low + (n % (high - low + 1));
}

/** "Leeds Teaching Hospitals NHS Trust" -> "Leeds Teaching Hospitals". */
export const shortTrustName = (name: string) => name.replace(/ NHS( Foundation)? Trust$/, '');

/**
 * The facts of a trust's e-RS clinics (ids from `idOf`), given every organisation of the directory
 * (for the practices of the trust's town).
 */
export function demoErsClinics(
  trust: OrganisationFacts,
  orgs: OrganisationFacts[],
  idOf: (kind: string) => string,
): ServiceFacts[] {
  const localPractices = orgs
    .filter((o) => o.role === 'RO76' && o.town === trust.town && o.active)
    .map((o) => o.code)
    .sort();
  return DEMO_ERS_CLINICS.map((c) => ({
    id: idOf(`ers:${c.kind}`),
    org: trust.code,
    name: `${shortTrustName(trust.name)} ${c.name}`,
    types: ['outpatients'],
    active: trust.active,
    endpoints: [],
    address: trust.postcode
      ? { lines: trust.lines.filter(Boolean), town: trust.town, postcode: trust.postcode }
      : undefined,
    telecom: trust.phone ? [{ system: 'phone', value: trust.phone, use: 'work' }] : undefined,
    ers: {
      ...c.profile,
      // the trust's own clinicians may refer too
      ...(c.localOnly ? { restrictedTo: [trust.code, ...localPractices] } : {}),
      ...(c.wait ? { waitDays: drawn(`${trust.code}:${c.kind}`, c.wait) } : {}),
    },
  }));
}
