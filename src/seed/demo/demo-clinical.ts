/**
 * The clinical vocabulary of the demo: medicines (dm+d virtual medicinal products) and allergies
 * with their reactions (SNOMED CT), as a GP system would send them. Codes carry valid check digits
 * (the SCR and EPS APIs verify them).
 */
export interface Medicine {
  code: string;
  display: string;
  dosage: string;
  quantity: number;
  unit: string;
}

export const MEDICINES = {
  paracetamol: {
    code: '322236009',
    display: 'Paracetamol 500mg tablets',
    dosage: 'Two to be taken up to four times a day when required',
    quantity: 100,
    unit: 'tablet',
  },
  salbutamol: {
    code: '320176004',
    display: 'Salbutamol 100micrograms/dose inhaler',
    dosage: 'Two puffs when required',
    quantity: 1,
    unit: 'inhaler',
  },
  atorvastatin: {
    code: '320000009',
    display: 'Atorvastatin 20mg tablets',
    dosage: 'One to be taken at night',
    quantity: 28,
    unit: 'tablet',
  },
  metformin: {
    code: '325278007',
    display: 'Metformin 500mg tablets',
    dosage: 'One to be taken twice a day with meals',
    quantity: 56,
    unit: 'tablet',
  },
  amlodipine: {
    code: '319283006',
    display: 'Amlodipine 5mg tablets',
    dosage: 'One to be taken each morning',
    quantity: 28,
    unit: 'tablet',
  },
  omeprazole: {
    code: '317335000',
    display: 'Omeprazole 20mg gastro-resistant capsules',
    dosage: 'One to be taken each morning',
    quantity: 28,
    unit: 'capsule',
  },
  amoxicillin: {
    code: '39732311000001104',
    display: 'Amoxicillin 250mg capsules',
    dosage: 'One to be taken three times a day for 7 days',
    quantity: 21,
    unit: 'capsule',
  },
  cocodamol: {
    code: '322341003',
    display: 'Co-codamol 30mg/500mg tablets',
    dosage: 'Two to be taken up to four times a day when required',
    quantity: 30,
    unit: 'tablet',
  },
  azithromycin: {
    code: '324252006',
    display: 'Azithromycin 250mg capsules',
    dosage: 'Two to be taken once a day for 3 days',
    quantity: 6,
    unit: 'capsule',
  },
} as const satisfies Record<string, Medicine>;

export type MedicineName = keyof typeof MEDICINES;

export interface Allergy {
  code: string;
  display: string;
  reaction: { code: string; display: string };
  severity: 'mild' | 'moderate' | 'severe';
}

export const ALLERGIES = {
  penicillin: {
    code: '91936005',
    display: 'Allergy to penicillin',
    reaction: { code: '126485001', display: 'Urticaria' },
    severity: 'moderate',
  },
  peanut: {
    code: '91935009',
    display: 'Allergy to peanut',
    reaction: { code: '39579001', display: 'Anaphylaxis' },
    severity: 'severe',
  },
  aspirin: {
    code: '293586001',
    display: 'Allergy to aspirin',
    reaction: { code: '56018004', display: 'Wheezing' },
    severity: 'moderate',
  },
  latex: {
    code: '300916003',
    display: 'Latex allergy',
    reaction: { code: '271807003', display: 'Eruption of skin' },
    severity: 'mild',
  },
  grassPollen: {
    code: '418689008',
    display: 'Allergy to grass pollen',
    reaction: { code: '41291007', display: 'Angioedema' },
    severity: 'mild',
  },
} as const satisfies Record<string, Allergy>;

export type AllergyName = keyof typeof ALLERGIES;
