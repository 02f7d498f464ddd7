/**
 * A Summary Care Record document (the SCR API's Bundle read, already filtered by the patient's
 * consent) as the SCR page shows it: allergies and adverse reactions, medications, and the
 * additional information the patient has agreed to share. Nothing is inferred: each row is one
 * entry of the document, with the status the document gives it.
 */
/** The SCR API's tag naming the basis a document was shown on (permission, emergency-access). */
const VIEW_BASIS_SYSTEM = 'https://openspine.dev/CodeSystem/scr-view-basis';

type Json = Record<string, any>;

export interface AllergyRow {
  substance: string;
  reactions: string;
  recorded?: string;
  status: string;
  note?: string;
}

export interface MedicationRow {
  name: string;
  dosage?: string;
  started?: string;
  ended?: string;
  status: string;
}

export interface ItemRow {
  name: string;
  detail?: string;
  date?: string;
  status?: string;
}

export interface ScrRecordView {
  /** When the GP practice's summary was written (the Composition's date). */
  written?: string;
  /** What the document's basis tag says the view rests on: permission or emergency-access. */
  basis?: string;
  currentAllergies: AllergyRow[];
  pastAllergies: AllergyRow[];
  currentMedications: MedicationRow[];
  pastMedications: MedicationRow[];
  /** Additional information (diagnoses, procedures, results...), only with express consent. */
  additional: { heading: string; rows: ItemRow[]; hasDetail: boolean }[];
}

/** The words of a CodeableConcept: its text, else its first coding's display, else the code. */
export function conceptText(c: unknown): string | undefined {
  if (!c || typeof c !== 'object') return undefined;
  const concept = c as Json;
  if (typeof concept.text === 'string' && concept.text) return concept.text;
  const coding = Array.isArray(concept.coding) ? concept.coding : [];
  for (const k of coding)
    if (typeof k?.display === 'string' && k.display) return k.display as string;
  return typeof coding[0]?.code === 'string' ? coding[0].code : undefined;
}

const codeOf = (c: unknown): string | undefined =>
  (c as Json | undefined)?.coding?.[0]?.code ?? undefined;

const capitalised = (s: string) => s.charAt(0).toUpperCase() + s.slice(1).replace(/-/g, ' ');

function allergyRow(a: Json): AllergyRow {
  const reactions = (Array.isArray(a.reaction) ? a.reaction : [])
    .map((r: Json) => {
      const what = (Array.isArray(r.manifestation) ? r.manifestation : [])
        .map(conceptText)
        .filter(Boolean)
        .join(', ');
      return r.severity ? `${what} (${r.severity})` : what;
    })
    .filter(Boolean)
    .join('; ');
  const clinical = codeOf(a.clinicalStatus) ?? 'active';
  const verification = codeOf(a.verificationStatus);
  return {
    substance: conceptText(a.code) ?? 'Not stated',
    reactions: reactions || 'Not recorded',
    recorded: a.recordedDate ?? a.onsetDateTime,
    status: capitalised(verification && verification !== 'confirmed' ? verification : clinical),
    note: Array.isArray(a.note)
      ? a.note
          .map((n: Json) => n?.text)
          .filter(Boolean)
          .join(' ')
      : undefined,
  };
}

function currentAllergy(a: Json): boolean {
  const clinical = codeOf(a.clinicalStatus);
  const verification = codeOf(a.verificationStatus);
  return (
    (!clinical || clinical === 'active') &&
    verification !== 'refuted' &&
    verification !== 'entered-in-error'
  );
}

function medicationRow(m: Json, resolve: (ref: string) => Json | undefined): MedicationRow {
  const ref = m.medicationReference?.reference;
  const medication = typeof ref === 'string' ? resolve(ref) : undefined;
  const dosage = [...(m.dosage ?? []), ...(m.dosageInstruction ?? [])]
    .map((d: Json) => d?.text)
    .filter(Boolean)
    .join('; ');
  return {
    name:
      conceptText(m.medicationCodeableConcept) ??
      conceptText(medication?.code) ??
      m.medicationReference?.display ??
      'Not stated',
    dosage: dosage || undefined,
    started: m.effectivePeriod?.start ?? m.effectiveDateTime ?? m.authoredOn,
    ended: m.effectivePeriod?.end,
    status: capitalised(String(m.status ?? 'unknown')),
  };
}

const isCurrentMedication = (m: Json) =>
  m.resourceType === 'MedicationStatement'
    ? m.status === 'active' || m.status === 'intended'
    : m.status === 'active';

function observationValue(o: Json): string | undefined {
  if (o.valueQuantity?.value !== undefined)
    return `${o.valueQuantity.value}${o.valueQuantity.unit ? ` ${o.valueQuantity.unit}` : ''}`;
  if (typeof o.valueString === 'string') return o.valueString;
  return conceptText(o.valueCodeableConcept);
}

const ADDITIONAL: { type: string; heading: string; row: (r: Json) => ItemRow }[] = [
  {
    type: 'Condition',
    heading: 'Diagnoses and problems',
    row: (c) => ({
      name: conceptText(c.code) ?? 'Not stated',
      date: c.onsetDateTime ?? c.recordedDate,
      status: codeOf(c.clinicalStatus) && capitalised(codeOf(c.clinicalStatus)!),
    }),
  },
  {
    type: 'Procedure',
    heading: 'Procedures and treatments',
    row: (p) => ({
      name: conceptText(p.code) ?? 'Not stated',
      date: p.performedDateTime ?? p.performedPeriod?.start,
      status: p.status && capitalised(p.status),
    }),
  },
  {
    type: 'Observation',
    heading: 'Results and observations',
    row: (o) => ({
      name: conceptText(o.code) ?? 'Not stated',
      detail: observationValue(o),
      date: o.effectiveDateTime ?? o.effectivePeriod?.start ?? o.issued,
      status: o.status && capitalised(o.status),
    }),
  },
];

/** Reads the SCR API's Bundle (the document as this user may see it) into what the page shows. */
export function scrRecordView(bundle: Json): ScrRecordView {
  const resources: Json[] = (Array.isArray(bundle?.entry) ? bundle.entry : [])
    .map((e: Json) => e?.resource)
    .filter((r: unknown): r is Json => !!r && typeof r === 'object');
  const byRef = new Map<string, Json>();
  for (const e of Array.isArray(bundle?.entry) ? bundle.entry : []) {
    const r = e?.resource;
    if (!r?.resourceType) continue;
    byRef.set(`${r.resourceType}/${r.id}`, r);
    if (typeof e.fullUrl === 'string') byRef.set(e.fullUrl, r);
  }
  const resolve = (ref: string) => byRef.get(ref) ?? byRef.get(ref.split('/').slice(-2).join('/'));
  const of = (type: string) => resources.filter((r) => r.resourceType === type);
  const allergies = of('AllergyIntolerance');
  const medications = resources.filter(
    (r) => r.resourceType === 'MedicationStatement' || r.resourceType === 'MedicationRequest',
  );
  const composition = of('Composition')[0];
  const tags: Json[] = Array.isArray(bundle?.meta?.tag) ? bundle.meta.tag : [];
  const basis = tags.find((t) => t?.system === VIEW_BASIS_SYSTEM);
  return {
    written: composition?.date,
    basis: basis?.code,
    currentAllergies: allergies.filter(currentAllergy).map(allergyRow),
    pastAllergies: allergies.filter((a) => !currentAllergy(a)).map(allergyRow),
    currentMedications: medications
      .filter(isCurrentMedication)
      .map((m) => medicationRow(m, resolve)),
    pastMedications: medications
      .filter((m) => !isCurrentMedication(m))
      .map((m) => medicationRow(m, resolve)),
    additional: ADDITIONAL.map((a) => {
      const rows = of(a.type).map(a.row);
      return { heading: a.heading, rows, hasDetail: rows.some((r) => r.detail) };
    }).filter((a) => a.rows.length > 0),
  };
}
