/**
 * Directory Organization documents (type 'Organization', id = ODS code) and their index rows.
 *
 * Representation (FHIR R4 Organization, following the ODS FHIR API conventions):
 * - identifier: the ODS code under https://fhir.nhs.uk/Id/ods-organization-code;
 * - type: the ODS primary role, coded in the ODS organisation role code system (RO76 GP practice,
 *   RO182 pharmacy, RO197 NHS trust);
 * - active: false once the organisation has a close date or a closed status;
 * - the active period (open and close dates) as the ODS ActivePeriod extension (valuePeriod);
 * - the parent (commissioner, or pharmacy headquarters) as Organization.partOf, by ODS identifier
 *   and literal reference; a successor as the OpenSpine successor extension (valueReference).
 */
import type { Organization } from 'fhir/r4.js';
import { resourceType, type IndexEntry } from '../../store/resource-store.js';
import { ODS_SYSTEM } from '../../fhir/identifiers.js';

export const ORGANIZATION = resourceType<Organization>('Organization');
export const ODS_ROLE_SYSTEM =
  'https://directory.spineservices.nhs.uk/STU3/CodeSystem/ODSAPI-OrganizationRole-1';
export const ACTIVE_PERIOD_URL =
  'https://fhir.nhs.uk/STU3/StructureDefinition/Extension-ODSAPI-ActivePeriod-1';
export const SUCCESSOR_URL =
  'https://openspine.dev/fhir/StructureDefinition/organisation-successor';

/** The organisation kinds the directory knows, by ODS role code, with the aliases search accepts. */
export const ORG_ROLES = {
  RO76: { display: 'GP PRACTICE', alias: 'gp-practice' },
  RO182: { display: 'PHARMACY', alias: 'pharmacy' },
  RO197: { display: 'NHS TRUST', alias: 'nhs-trust' },
} as const;
export type OrgRole = keyof typeof ORG_ROLES;

/** Any ODS organisation code: 3 to 10 upper-case letters and digits. */
export const ODS_CODE = /^[A-Z0-9]{3,10}$/;

export interface OrganisationFacts {
  code: string;
  name: string;
  role: OrgRole;
  /** Address lines 1-3, town, county (any may be empty). */
  lines: string[];
  town?: string;
  county?: string;
  postcode?: string;
  /** ISO dates (YYYY-MM-DD). */
  openDate?: string;
  closeDate?: string;
  /** False for a closed organisation (a close date, or a closed status in the extract). */
  active: boolean;
  parent?: string;
  successor?: string;
  phone?: string;
}

/** The Organization document for a set of directory facts (a pure function: same facts, same JSON). */
export function buildOrganization(f: OrganisationFacts): Organization {
  const org: Organization = {
    resourceType: 'Organization',
    id: f.code,
    identifier: [{ system: ODS_SYSTEM, value: f.code }],
    active: f.active,
    type: [
      { coding: [{ system: ODS_ROLE_SYSTEM, code: f.role, display: ORG_ROLES[f.role].display }] },
    ],
    name: f.name,
  };
  const extension = [];
  if (f.openDate || f.closeDate) {
    extension.push({
      url: ACTIVE_PERIOD_URL,
      valuePeriod: {
        ...(f.openDate ? { start: f.openDate } : {}),
        ...(f.closeDate ? { end: f.closeDate } : {}),
      },
    });
  }
  if (f.successor)
    extension.push({ url: SUCCESSOR_URL, valueReference: orgReference(f.successor) });
  if (extension.length) org.extension = extension;
  if (f.phone) org.telecom = [{ system: 'phone', value: f.phone, use: 'work' }];
  const lines = f.lines.filter(Boolean);
  if (lines.length || f.town || f.county || f.postcode) {
    org.address = [
      {
        use: 'work',
        ...(lines.length ? { line: lines } : {}),
        ...(f.town ? { city: f.town } : {}),
        ...(f.county ? { district: f.county } : {}),
        ...(f.postcode ? { postalCode: f.postcode } : {}),
      },
    ];
  }
  if (f.parent) org.partOf = orgReference(f.parent);
  return org;
}

export function orgReference(code: string) {
  return { reference: `Organization/${code}`, identifier: { system: ODS_SYSTEM, value: code } };
}

/** Lower-case words with accents folded: 'Café  St. John's' -> ['cafe', 'st', 'johns']. */
export function nameWords(text: string): string[] {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/['\u2019]/g, '')
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

export function normalisePostcode(text: string): string {
  return text.toUpperCase().replace(/[^A-Z0-9]/g, '');
}

/** Index rows of an Organization document: identifier, name words, postcode, type, active, partof. */
export function indexOrganization(org: Organization): IndexEntry[] {
  const rows = new Map<string, IndexEntry>();
  const add = (param: string, value: string | undefined) => {
    if (value) rows.set(param + '\u0000' + value, { param, value });
  };
  for (const id of org.identifier ?? [])
    if (id.system === ODS_SYSTEM) add('identifier', id.value?.toUpperCase());
  for (const word of nameWords(org.name ?? '')) add('name', word);
  for (const a of org.address ?? [])
    add('postcode', a.postalCode ? normalisePostcode(a.postalCode) : undefined);
  for (const t of org.type ?? []) for (const c of t.coding ?? []) add('type', c.code);
  add('active', org.active === false ? 'false' : 'true');
  add('partof', org.partOf?.identifier?.value);
  return [...rows.values()];
}

/** The document without the store-managed meta, for change detection. */
export function withoutMeta<T extends { meta?: unknown }>(doc: T): Omit<T, 'meta'> {
  const { meta: _meta, ...rest } = doc;
  return rest;
}
