/**
 * NHS England's published EPS examples, run against OpenSpine.
 *
 * Source: the `examples/` tree of NHSDigital/electronic-prescription-service-api (commit in
 * PUBLISHED_SOURCE), copied as data into test/fixtures/eps/published/ with their paths under
 * examples/ preserved (see SOURCES.md there). Refresh the copy from a local mirror with
 *   node --import tsx test/conformance/eps/published-examples.ts --copy <bare-git-dir> [path-regex]
 *
 * API (small on purpose; other conformance suites import it):
 *   publishedPairs(filter?)           the numbered request/response pairs, in the order the numbers imply
 *   readPublished(path)               one example, parsed (path relative to examples/)
 *   PublishedRun                      drives a platform per store kind the way the examples imply:
 *     .prepare(bundle)                $prepare as published (patient on PDS, caller = the sender)
 *     .send(bundle)                   $prepare the message, sign the digest with the prescriber's
 *                                     registered test key, put that signature in place of the published
 *                                     one, and $process-message it
 *     .platformFor(bundle)            the platform that message goes to (fresh when its prescription
 *                                     ids were already used: several examples reuse one id)
 *     .close()
 *   outcomeCodes(body)                the OperationOutcome's issue codes and details codes, for comparison
 *
 * Signatures: NHS examples carry XML-DSig signatures made with NHS smartcard certificates, which
 * cannot be verified here (neither the certificates nor the signed XML are available). The only
 * change made to a published message is therefore its signature: Provenance.signature[0].data is
 * replaced with a compact JWS over OpenSpine's $prepare digest of the same message, made with a key
 * registered to the prescriber. Everything else is sent byte-for-byte as published.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { indexPatient } from '../../../src/services/pds/patient-index.js';
import { LegitimateRelationships } from '../../../src/security/relationships.js';
import { startEpsPlatform, type EpsPlatform } from '../../helpers/eps-platform.js';
import {
  EPS,
  registeredKey,
  signDigest,
  type PrescriberKeyPair,
} from '../../helpers/eps-prescribing.js';
import type { EpsResponse } from '../../helpers/eps-client.js';
import type { StoreKind } from '../../helpers/stores.js';

export const PUBLISHED_SOURCE = {
  repo: 'NHSDigital/electronic-prescription-service-api',
  commit: '77e80e11f58013e89c6b4f1c3d767373faa8c29d',
} as const;
export const PUBLISHED_ROOT = fileURLToPath(
  new URL('../../fixtures/eps/published/', import.meta.url),
);

const ODS = 'https://fhir.nhs.uk/Id/ods-organization-code';
const NHS_NUMBER = 'https://fhir.nhs.uk/Id/nhs-number';
const NOMINATED = 'https://fhir.nhs.uk/R4/StructureDefinition/Extension-UKCore-NominatedPharmacy';

/** One published request and, when NHS England published it, its response. */
export interface PublishedPair {
  /** The request's path relative to examples/ (the test's name). */
  path: string;
  folder: string;
  /** The scenario number ('1', '2', ...) or '' for unnumbered examples. */
  number: string;
  operation: 'prepare' | 'process';
  /** For $process-message: what the message does, as the file name says (Send, Cancel, Dispense...). */
  message: string;
  /** The HTTP status the file name (or, unnamed, the published response) gives. */
  status: number;
  response?: string;
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

export function readPublished(path: string): any {
  return JSON.parse(readFileSync(join(PUBLISHED_ROOT, path), 'utf8'));
}

const OPERATION_ORDER = { prepare: 0, process: 1 } as const;

/** Classifies a copied file; null when it is not a request this harness knows how to pair. */
function pairOf(path: string, all: Set<string>): PublishedPair | null {
  const folder = dirname(path);
  const name = path.slice(folder.length + 1);
  let m =
    /^(?:(\d+)-)?(Prepare|Process)-Request-(?:([A-Za-z]+)-)?(?:(.*?)[-_])?(\d{3})_?([A-Za-z_]*)\.json$/.exec(
      name,
    );
  if (m) {
    const [, number = '', op, message = '', , status] = m;
    const candidates = [
      name.replace('-Request-', '-Response-'),
      name.replace(/-Request-Send-/, '-Response-'),
    ];
    const response = candidates.map((c) => join(folder, c)).find((c) => all.has(c));
    return {
      path,
      folder,
      number,
      operation: op === 'Prepare' ? 'prepare' : 'process',
      message: op === 'Prepare' ? '' : /Send/.test(name) ? 'Send' : message || 'Send',
      status: Number(status),
      ...(response ? { response } : {}),
    };
  }
  // the specification's own examples: <name>-req.json / <name>-res.json; PrepareRequest-* / SendRequest-*
  m = /^(.*)-req\.json$/.exec(name);
  if (
    m &&
    (folder.startsWith('spec/prepare') || folder.startsWith('spec/prescribing/prescription-order'))
  ) {
    const response = join(folder, `${m[1]}-res.json`);
    const has = all.has(response);
    const published = has ? readPublished(response) : undefined;
    const failed =
      published?.resourceType === 'OperationOutcome' &&
      published.issue?.some((i: any) => i.severity === 'error' || i.severity === 'fatal');
    const operation = folder.startsWith('spec/prepare') ? 'prepare' : 'process';
    return {
      path,
      folder,
      number: '',
      operation,
      message: operation === 'process' ? (folder.endsWith('update') ? 'Cancel' : 'Send') : '',
      status: failed ? 400 : 200,
      ...(has ? { response } : {}),
    };
  }
  return null;
}

/** Every pair among the copied examples (optionally filtered), ordered by folder, number, prepare before process. */
export function publishedPairs(
  filter: (p: PublishedPair) => boolean = () => true,
): PublishedPair[] {
  const files = walk(PUBLISHED_ROOT)
    .map((f) => relative(PUBLISHED_ROOT, f))
    .filter((f) => f.endsWith('.json'));
  const all = new Set(files);
  return files
    .map((f) => pairOf(f, all))
    .filter((p): p is PublishedPair => p !== null && filter(p))
    .sort(
      (a, b) =>
        a.folder.localeCompare(b.folder) ||
        Number(a.number || 0) - Number(b.number || 0) ||
        OPERATION_ORDER[a.operation] - OPERATION_ORDER[b.operation] ||
        a.path.localeCompare(b.path),
    );
}

/** The codes an OperationOutcome carries: issue.code and each details.coding code, in order. */
export function outcomeCodes(body: any): { severity: string[]; code: string[]; details: string[] } {
  const issues = Array.isArray(body?.issue) ? body.issue : [];
  return {
    severity: issues.map((i: any) => i.severity),
    code: issues.map((i: any) => i.code),
    details: issues.flatMap((i: any) => (i.details?.coding ?? []).map((c: any) => c.code)),
  };
}

const resources = (bundle: any): any[] =>
  (bundle?.entry ?? []).map((e: any) => e.resource).filter(Boolean);
const ofType = (bundle: any, type: string) =>
  resources(bundle).filter((r) => r.resourceType === type);

/** The ODS code of a reference, or of the resource it points to in the bundle. */
function odsOf(bundle: any, ref: any): string | undefined {
  if (ref?.identifier?.system === ODS) return ref.identifier.value;
  const target = (bundle.entry ?? []).find((e: any) => e.fullUrl === ref?.reference)?.resource;
  // a sender given as the prescriber's PractitionerRole: its organisation
  if (target?.resourceType === 'PractitionerRole') return odsOf(bundle, target.organization);
  const id = (Array.isArray(target?.identifier) ? target.identifier : []).find(
    (i: any) => i.system === ODS,
  );
  return id?.value;
}

/** The sending organisation, as the message names it (identifier, or the resource it references). */
export function senderOf(bundle: any): string | undefined {
  const header = resources(bundle)[0];
  return odsOf(bundle, header?.sender);
}

/** The prescriber as the message names them: the requester PractitionerRole's id (SDS role profile) or a fixed name. */
function prescriberUserOf(bundle: any): string {
  const role = ofType(bundle, 'PractitionerRole')[0];
  const id = (role?.identifier ?? []).find((i: any) => typeof i.value === 'string')?.value;
  return `published-${String(id ?? 'prescriber').replace(/[^A-Za-z0-9._@:-]/g, '')}`.slice(0, 100);
}

/** The prescription ids a message carries, to keep examples that reuse them apart. */
function prescriptionIds(bundle: any): string[] {
  return ofType(bundle, 'MedicationRequest')
    .flatMap((r) => [
      r.groupIdentifier?.value,
      r.groupIdentifier?.extension?.[0]?.valueIdentifier?.value,
    ])
    .filter((v) => typeof v === 'string');
}

export class PublishedRun {
  private platforms: { t: EpsPlatform; used: Set<string>; keys: Map<string, PrescriberKeyPair> }[] =
    [];

  constructor(readonly kind: StoreKind) {}

  /** The platform this message goes to: the first on which none of its prescription ids was sent. */
  async platformFor(bundle: any): Promise<(typeof this.platforms)[number]> {
    const ids = prescriptionIds(bundle);
    let slot = this.platforms.find((p) => ids.every((id) => !p.used.has(id)));
    if (!slot) {
      slot = { t: await startEpsPlatform(this.kind), used: new Set(), keys: new Map() };
      this.platforms.push(slot);
    }
    return slot;
  }

  /**
   * Puts the message's patient on PDS as the message describes them (name, birth date, GP, and the
   * dispenseRequest.performer as nominated pharmacy), replacing an earlier version, and, when the
   * sender is not the patient's GP practice, records the care episode a hospital prescriber has.
   */
  private async loadPatient(t: EpsPlatform, bundle: any): Promise<void> {
    const source = ofType(bundle, 'Patient')[0];
    const nhs = (source?.identifier ?? []).find((i: any) => i.system === NHS_NUMBER)?.value;
    if (typeof nhs !== 'string') return;
    const performer = ofType(bundle, 'MedicationRequest')
      .map((r) => r.dispenseRequest?.performer?.identifier?.value)
      .find((v) => typeof v === 'string');
    const { id: _id, meta: _meta, ...rest } = source;
    const patient = {
      ...rest,
      resourceType: 'Patient',
      id: nhs,
      generalPractitioner: (source.generalPractitioner ?? []).map((g: any) => ({
        type: 'Organization',
        identifier: g.identifier,
      })),
      extension: performer
        ? [{ url: NOMINATED, valueReference: { identifier: { system: ODS, value: performer } } }]
        : [],
    };
    const repo = t.platform.repo;
    const stored = await repo.read('Patient', nhs);
    await repo.commit({
      resources: [
        {
          type: 'Patient',
          id: nhs,
          expectedVersion: stored?.version ?? 0,
          resource: patient,
          index: indexPatient(patient as never),
        },
      ],
    });
    const sender = senderOf(bundle);
    const gp = patient.generalPractitioner[0]?.identifier?.value;
    if (sender && sender !== gp) {
      await new LegitimateRelationships(repo).record({
        patient: nhs,
        org: sender,
        kind: 'care-episode',
        source: 'published-example',
      });
    }
  }

  private async caller(
    slot: (typeof this.platforms)[number],
    bundle: any,
  ): Promise<{ token: string; key: PrescriberKeyPair }> {
    const user = prescriberUserOf(bundle);
    let key = slot.keys.get(user);
    if (!key) {
      key = await registeredKey(slot.t.platform.repo, user, 'RS256');
      slot.keys.set(user, key);
    }
    const token = await slot.t.platform.token('R8000', { user, org: senderOf(bundle) ?? '' });
    return { token, key };
  }

  private post(t: EpsPlatform, url: string, body: unknown, token: string): Promise<EpsResponse> {
    return t.eps.send({ method: 'POST', url: EPS + url, body, token });
  }

  /** $prepare the published request as it is. */
  async prepare(bundle: any): Promise<EpsResponse> {
    const slot = await this.platformFor(bundle);
    await this.loadPatient(slot.t, bundle);
    return this.post(slot.t, '/$prepare', bundle, (await this.caller(slot, bundle)).token);
  }

  /**
   * Sends the published message as a prescribing system would: $prepare it (without its
   * Provenance), sign the digest, replace only the published signature, $process-message. When
   * $prepare refuses the message, the message is sent with its published signature unchanged, so the
   * answer compared is $process-message's own.
   */
  async send(bundle: any): Promise<{ response: EpsResponse; prepared: EpsResponse; signed: any }> {
    const slot = await this.platformFor(bundle);
    await this.loadPatient(slot.t, bundle);
    const { token, key } = await this.caller(slot, bundle);
    const unsigned = {
      ...bundle,
      entry: (bundle.entry ?? []).filter((e: any) => e?.resource?.resourceType !== 'Provenance'),
    };
    const prepared = await this.post(slot.t, '/$prepare', unsigned, token);
    const signed = structuredClone(bundle);
    const digest = prepared.body?.parameter?.find((p: any) => p.name === 'digest')?.valueString;
    if (prepared.status === 200 && typeof digest === 'string') {
      const jws = await signDigest(key, digest);
      for (const p of ofType(signed, 'Provenance'))
        for (const s of p.signature ?? []) s.data = Buffer.from(jws).toString('base64');
    }
    const response = await this.post(slot.t, '/$process-message', signed, token);
    if (response.status === 200) for (const id of prescriptionIds(bundle)) slot.used.add(id);
    return { response, prepared, signed };
  }

  async close(): Promise<void> {
    for (const p of this.platforms) await p.t.close();
    this.platforms = [];
  }
}

/** Copies the published examples (paths matching `pattern`) from a bare mirror into the fixtures. */
function copyFromMirror(gitDir: string, pattern: RegExp): void {
  const commit = execFileSync('git', ['-C', gitDir, 'rev-parse', 'HEAD'], {
    encoding: 'utf8',
  }).trim();
  const paths = execFileSync(
    'git',
    ['-C', gitDir, 'ls-tree', '-r', '--name-only', commit, 'examples'],
    { encoding: 'utf8' },
  )
    .split('\n')
    .filter((p) => p.endsWith('.json') && pattern.test(p));
  for (const p of paths) {
    const target = join(PUBLISHED_ROOT, p.slice('examples/'.length));
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, execFileSync('git', ['-C', gitDir, 'show', `${commit}:${p}`]));
  }
  console.log(`copied ${paths.length} files from ${PUBLISHED_SOURCE.repo} at ${commit}`);
}

if (
  process.argv[1] &&
  fileURLToPath(import.meta.url) === process.argv[1] &&
  process.argv[2] === '--copy'
) {
  copyFromMirror(
    process.argv[3],
    new RegExp(
      process.argv[4] ??
        '(Prepare|Process)-(Request|Response)-.*Send[-_]|Prepare-(Request|Response)|/spec/prepare/|/spec/prescribing/prescription-order/',
    ),
  );
}
