import type { Bundle, Coverage } from 'fhir/r4.js';
import { resourceType, type IndexEntry } from '../../store/resource-store.js';
import { NHS_NUMBER_SYSTEM } from '../../fhir/identifiers.js';

/**
 * A patient's European Health Insurance Card (EHIC) details, as PDS holds them: at most one
 * Coverage per patient, stored as resource type 'Coverage' under the patient's NHS Number and
 * indexed by subscriber. The card is part of the patient's record: reading it answers with the
 * record's version (Bundle meta.versionId, ETag), and changing it moves that version on, so an
 * If-Match taken from a Patient read or a Coverage read guards both alike.
 */
export const COVERAGE = resourceType<Coverage>('Coverage');
export const ISO_3166_SYSTEM = 'urn:iso:std:iso:3166';
/** The record version a stored card was written at (meta.tag), so a replayed write answers as the first did. */
export const RECORD_VERSION_TAG = 'urn:openspine:pds-record-version';

/**
 * Countries issuing the EHIC (the EU, Iceland, Liechtenstein, Norway and Switzerland): ISO 3166
 * alpha-3 code and name.
 */
export const EHIC_COUNTRIES: Readonly<Record<string, string>> = {
  AUT: 'Austria',
  BEL: 'Belgium',
  BGR: 'Bulgaria',
  HRV: 'Croatia',
  CYP: 'Cyprus',
  CZE: 'Czech Republic',
  DNK: 'Denmark',
  EST: 'Estonia',
  FIN: 'Finland',
  FRA: 'France',
  DEU: 'Germany',
  GRC: 'Greece',
  HUN: 'Hungary',
  IRL: 'Ireland',
  ITA: 'Italy',
  LVA: 'Latvia',
  LTU: 'Lithuania',
  LUX: 'Luxembourg',
  MLT: 'Malta',
  NLD: 'Netherlands',
  POL: 'Poland',
  PRT: 'Portugal',
  ROU: 'Romania',
  SVK: 'Slovakia',
  SVN: 'Slovenia',
  ESP: 'Spain',
  SWE: 'Sweden',
  ISL: 'Iceland',
  LIE: 'Liechtenstein',
  NOR: 'Norway',
  CHE: 'Switzerland',
};

/** The card as PDS holds it: every EHIC field, nothing else. */
export interface EhicCard {
  nhsNumber: string;
  cardNumber: string;
  country: string;
  personalId: string;
  institutionId: string;
  expiry: string;
}

export function coverageIndex(nhsNumber: string): IndexEntry[] {
  return [{ param: 'subscriber', value: nhsNumber }];
}

/** The stored document of a card, written at record version `recordVersion`. */
export function coverageDocument(card: EhicCard, recordVersion: number): Coverage {
  return {
    resourceType: 'Coverage',
    id: card.nhsNumber,
    meta: { tag: [{ system: RECORD_VERSION_TAG, code: String(recordVersion) }] },
    status: 'active',
    subscriber: {
      identifier: { system: NHS_NUMBER_SYSTEM, value: card.nhsNumber },
      type: 'Patient',
    },
    identifier: [
      {
        value: card.cardNumber,
        assigner: {
          display: EHIC_COUNTRIES[card.country] ?? card.country,
          identifier: { system: ISO_3166_SYSTEM, value: card.country },
        },
      },
    ],
    payor: [{ identifier: { value: card.institutionId } }],
    beneficiary: { identifier: { value: card.personalId }, type: 'Patient' },
    period: { end: card.expiry },
  } as Coverage;
}

export function recordVersionOf(stored: Coverage): number | undefined {
  const code = stored.meta?.tag?.find((t) => t.system === RECORD_VERSION_TAG)?.code;
  return code === undefined ? undefined : Number(code);
}

/**
 * The card as it is shown: without PDS's bookkeeping, and not at all when it is incomplete (PDS
 * returns no EHIC record whose personal ID or institution ID is missing) or no longer active.
 */
export function coverageForResponse(stored: Coverage, subscriber: string): Coverage | undefined {
  const c = stored as Coverage & {
    identifier?: { value?: string }[];
    payor?: { identifier?: { value?: string } }[];
  };
  if (stored.status !== 'active') return undefined;
  if (
    !stored.beneficiary?.identifier?.value ||
    !c.payor?.[0]?.identifier?.value ||
    !c.identifier?.[0]?.value
  )
    return undefined;
  const { meta: _meta, id: _id, ...shown } = stored;
  return {
    ...shown,
    subscriber: { identifier: { system: NHS_NUMBER_SYSTEM, value: subscriber }, type: 'Patient' },
  } as Coverage;
}

/** The searchset PDS answers a Coverage read and update with: zero or one card, and the record version. */
export function coverageBundle(
  baseUrl: string,
  subscriber: string,
  coverage: Coverage | undefined,
  recordVersion: number,
): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    timestamp: new Date().toISOString().replace(/\.\d{3}Z$/, '+00:00'),
    total: coverage ? 1 : 0,
    meta: { versionId: String(recordVersion) },
    ...(coverage
      ? {
          entry: [
            {
              fullUrl: `${baseUrl}/Coverage?subscriber:identifier=${subscriber}`,
              resource: coverage,
            },
          ],
        }
      : {}),
  };
}
