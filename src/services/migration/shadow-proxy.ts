import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import type { Patient } from 'fhir/r4.js';
import { isValidNhsNumber } from '../../fhir/nhs-number.js';
import { patientForRead } from '../pds/index.js';
import { addPatientTuples, newDigests } from './field-digest.js';
import { cleanPatient, groupChildren, patientProblem, type Children } from './legacy-clean.js';
import { legacyPatient } from './legacy-fhir.js';
import { LegacyReader, patientSql, type ChildRow, type PatientRow } from './legacy-read.js';
import { CHILD_TABLES, LEGACY_TABLES, checkSchemaName, type ChildTable } from './legacy-schema.js';

/**
 * Shadow (dual-run) mode for cut-over: every request goes to OpenSpine and its answer goes back to
 * the caller unchanged; each Patient read is also answered from the legacy store (mapped and
 * viewed exactly as PDS would show it) and the two are compared field by field. Differences are
 * logged; GET /_shadow/stats gives the difference rate operators watch fall to zero.
 */
export interface ShadowStats {
  reads: number;
  compared: number;
  differences: number;
  legacyErrors: number;
  differenceRate: number;
}

const CHILDREN = Object.keys(CHILD_TABLES) as ChildTable[];
const PATIENT_READ = /^\/personal-demographics\/FHIR\/R4\/Patient\/([^/?]+)(\?.*)?$/;

/** The legacy-backed reader: the Patient the legacy store holds under this number, as PDS would show it. */
export class LegacyPatientReader {
  private readonly reader: LegacyReader;
  constructor(
    private readonly pool: pg.Pool,
    private readonly schema: string,
  ) {
    this.reader = new LegacyReader(pool as unknown as pg.ClientBase, schema);
  }
  async read(nhs: string): Promise<Patient | null> {
    const { rows } = await this.pool.query<PatientRow>(
      `${patientSql(this.schema)} WHERE regexp_replace(p.nhs_number, '\\s', '', 'g') = $1 ORDER BY p.patient_id LIMIT 1`,
      [nhs],
    );
    const row = rows[0];
    if (!row || patientProblem(row)) return null;
    const fetched = await Promise.all(CHILDREN.map((t) => this.reader.children(t, [row.key])));
    const children =
      groupChildren(
        CHILDREN,
        Object.fromEntries(CHILDREN.map((t, i) => [t, fetched[i]])) as Record<
          ChildTable,
          ChildRow[]
        >,
      ).get(row.key) ?? (Object.fromEntries(CHILDREN.map((t) => [t, []])) as unknown as Children);
    return patientForRead(legacyPatient(cleanPatient(row, children)));
  }
}

/** Field-level differences between two Patient views, by digest table. */
export function patientDifferences(legacy: Patient | null, openspine: Patient | null): string[] {
  if (!legacy || !openspine)
    return legacy === openspine ? [] : [legacy ? 'missing from OpenSpine' : 'missing from legacy'];
  const a = newDigests(LEGACY_TABLES),
    b = newDigests(LEGACY_TABLES);
  addPatientTuples(a, legacy);
  addPatientTuples(b, openspine);
  return LEGACY_TABLES.filter((t) => a[t].hex() !== b[t].hex() || a[t].count !== b[t].count);
}

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function startShadowProxy(opts: {
  sourceUrl: string;
  schema: string;
  upstream: string;
  port: number;
  host: string;
  log: (line: string) => void;
}) {
  const pool = new pg.Pool({ connectionString: opts.sourceUrl, max: 4 });
  const legacy = new LegacyPatientReader(pool, checkSchemaName(opts.schema));
  const stats: ShadowStats = {
    reads: 0,
    compared: 0,
    differences: 0,
    legacyErrors: 0,
    differenceRate: 0,
  };
  const upstream = opts.upstream.replace(/\/$/, '');
  // comparisons run after the caller has its answer; stats wait for those already under way
  const inFlight = new Set<Promise<void>>();

  async function compare(
    nhs: string,
    status: number,
    text: string,
    requestId: string | undefined,
  ): Promise<void> {
    try {
      const theirs = await legacy.read(nhs);
      const ours = status === 200 ? (JSON.parse(text) as Patient) : null;
      if (ours && ours.id !== nhs) return; // a superseded number answered with its survivor: not a like-for-like read
      const diffs = patientDifferences(theirs, ours);
      stats.compared++;
      if (diffs.length) {
        stats.differences++;
        opts.log(
          JSON.stringify({ msg: 'shadow difference', nhsNumber: nhs, requestId, fields: diffs }),
        );
      }
    } catch (err) {
      stats.legacyErrors++;
      opts.log(
        JSON.stringify({
          msg: 'shadow legacy read failed',
          nhsNumber: nhs,
          error: (err as Error).message,
        }),
      );
    }
    stats.differenceRate = stats.compared ? stats.differences / stats.compared : 0;
  }

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    try {
      if (req.method === 'GET' && req.url === '/_shadow/stats') {
        await Promise.all(inFlight);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(stats));
        return;
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers))
        if (typeof v === 'string' && k !== 'host' && k !== 'connection') headers[k] = v;
      const payload = req.method === 'GET' || req.method === 'HEAD' ? undefined : await body(req);
      const answer = await fetch(upstream + req.url, {
        method: req.method,
        headers,
        body: payload ? new Uint8Array(payload) : undefined,
      });
      const text = await answer.text();
      const out: Record<string, string> = {};
      answer.headers.forEach((v, k) => {
        if (k !== 'content-length' && k !== 'transfer-encoding' && k !== 'connection') out[k] = v;
      });
      res.writeHead(answer.status, out).end(text);
      const m = req.method === 'GET' ? PATIENT_READ.exec(req.url ?? '') : null;
      if (m && isValidNhsNumber(m[1]) && (answer.status === 200 || answer.status === 404)) {
        stats.reads++;
        const done = compare(m[1], answer.status, text, headers['x-request-id']).finally(() =>
          inFlight.delete(done),
        );
        inFlight.add(done);
      }
    } catch (err) {
      if (!res.headersSent)
        res
          .writeHead(502, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: 'upstream unavailable' }));
      opts.log(JSON.stringify({ msg: 'shadow proxy error', error: (err as Error).message }));
    }
  });
  await new Promise<void>((resolve) => server.listen(opts.port, opts.host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${opts.host}:${port}`,
    stats: () => ({ ...stats }),
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await pool.end();
    },
  };
}
