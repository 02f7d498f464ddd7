/**
 * Every `curl` example in README.md works on the data `npm start` seeds.
 *
 * The README's shell code blocks are read and run, in order, as a shell would run them: variables
 * (`B=...`), arrays (`H=(...)`, `"${H[@]}"`), one-line functions (`rid() { ...; }`), quoting, line
 * continuations and comments; `$(cat /proc/sys/kernel/random/uuid)` gives a fresh UUID and
 * `$(npx openspine ...)` runs the CLI's own entry point (src/cli/main.ts, what bin/openspine.js
 * runs) on the served data directory, so `npx openspine token ...` yields a token exactly as it
 * would for a reader. Any other command or an undefined variable fails the test, so a README that
 * grows something this reader does not know is noticed here rather than skipped.
 *
 * The server is the one `npm start` starts (`serve --demo`: startServer with demo on, an empty
 * embedded SQLite store in a temp directory, default settings), which seeds the 10,000
 * deterministic demo patients (seed 1), the demo directory and the demo identity; the README's
 * `http://127.0.0.1:8080` (npm start's address) is replaced by this server's address. SQLite only,
 * as `npm start` serves the embedded store.
 *
 * Each request must answer 2xx (or the status its comment names as `answers NNN`) with a JSON
 * body; every example in the README is concrete (no placeholders such as `<superseded number>`),
 * so a number, name or date that is not in the demo data fails. Beyond the status, what the
 * request implies is checked:
 * - a searchset finds at least one resource (a 200 OperationOutcome such as TOO_MANY_MATCHES fails);
 * - `GET /Patient/{n}` answers patient n, or, once a README `$merge` superseded n, its survivor;
 * - a `PATCH` is applied, not answered as a retry: its ETag is the `If-Match` version plus one and
 *   each added or replaced top-level value is in the answer;
 * - a `_fuzzy-match` trace finds a patient whose current name is not the one asked for (a misspelling);
 * - a `_history` trace finds a patient whose current family name is not the one asked for (an old name);
 * - a birth (`POST /Patient`) answers 201 with a Location.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadConfig } from '../src/config.js';
import { main } from '../src/cli/main.js';
import { startServer, type RunningServer } from '../src/server.js';
import { DEMO_COHORT_ROLES } from '../src/seed/demo/index.js';
import { isolatedStoreConfig } from './helpers/stores.js';

/** The address `npm start` serves on, which the README's examples call. */
const README_ORIGIN = 'http://127.0.0.1:8080';
const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

// ---- reading the README's shell blocks ----

interface Command {
  text: string;
  comment: string;
  line: number;
}

/** The fenced code blocks tagged sh/bash/shell, with the README line of their first line. */
function shellBlocks(markdown: string): { text: string; line: number }[] {
  const blocks: { text: string; line: number }[] = [];
  let body: string[] | null = null;
  let first = 0;
  markdown.split('\n').forEach((l, i) => {
    if (body === null && /^```(sh|bash|shell)\s*$/.test(l)) {
      body = [];
      first = i + 2;
      return;
    }
    if (body !== null && /^```\s*$/.test(l)) {
      blocks.push({ text: body.join('\n'), line: first });
      body = null;
      return;
    }
    body?.push(l);
  });
  return blocks;
}

/** A block split into commands: one per line, across `\` continuations and multi-line quotes; comments kept apart. */
function splitCommands(block: string, firstLine: number): Command[] {
  const out: Command[] = [];
  let text = '',
    comment = '',
    quote = '',
    depth = 0,
    line = firstLine,
    start = firstLine;
  const flush = () => {
    if (text.trim()) out.push({ text: text.trim(), comment: comment.trim(), line: start });
    text = '';
    comment = '';
  };
  for (let i = 0; i < block.length; i++) {
    const c = block[i];
    if (!text.trim() && !/\s/.test(c)) start = line;
    if (c === '\n') line++;
    if (quote === "'") {
      text += c;
      if (c === "'") quote = '';
      continue;
    }
    if (c === '\\' && block[i + 1] === '\n') {
      text += ' ';
      i++;
      line++;
      continue;
    }
    if (c === '\\') {
      text += c + (block[i + 1] ?? '');
      i++;
      continue;
    }
    if (quote === '"') {
      text += c;
      if (c === '"') quote = '';
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      text += c;
      continue;
    }
    if (c === '(') depth++;
    if (c === ')') depth--;
    if (c === '#' && depth === 0 && (text === '' || /\s$/.test(text))) {
      const end = block.indexOf('\n', i);
      comment = block.slice(i + 1, end < 0 ? block.length : end);
      i = (end < 0 ? block.length : end) - 1;
      continue;
    }
    if (c === '\n' && depth === 0) {
      flush();
      continue;
    }
    text += c;
  }
  assert.equal(quote, '', `README.md:${start}: unterminated ${quote} quote`);
  flush();
  return out;
}

/** Index of the `)` closing the `(` at `open`, quotes skipped. */
function closingParen(text: string, open: number): number {
  let depth = 0,
    quote = '';
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = '';
      continue;
    }
    if (c === "'" || c === '"') quote = c;
    else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
  }
  throw new Error(`unbalanced parenthesis in: ${text}`);
}

// ---- a small shell: just what the README's examples use ----

class Shell {
  private readonly vars = new Map<string, string>();
  private readonly arrays = new Map<string, string[]>();
  private readonly functions = new Map<string, string>();

  constructor(private readonly dataDir: string) {}

  private scalar(name: string): string {
    const v = this.vars.get(name);
    assert.ok(v !== undefined, `the README uses $${name} before defining it`);
    return v;
  }

  private array(name: string): string[] {
    const v = this.arrays.get(name);
    assert.ok(v !== undefined, `the README uses \${${name}[@]} before defining it`);
    return v;
  }

  /** `$NAME`, `${NAME}`, `${NAME[@]}` or `$(...)` at text[i]. */
  private async dollar(
    text: string,
    i: number,
  ): Promise<{ value?: string; array?: string[]; next: number }> {
    if (text[i + 1] === '(') {
      const close = closingParen(text, i + 1);
      return { value: await this.substitute(text.slice(i + 2, close)), next: close + 1 };
    }
    if (text[i + 1] === '{') {
      const close = text.indexOf('}', i);
      const expr = text.slice(i + 2, close);
      const element = /^(\w+)\[@\]$/.exec(expr);
      return element
        ? { array: this.array(element[1]), next: close + 1 }
        : { value: this.scalar(expr), next: close + 1 };
    }
    const name = /^[A-Za-z_]\w*/.exec(text.slice(i + 1));
    if (!name) return { value: '$', next: i + 1 };
    return { value: this.scalar(name[0]), next: i + 1 + name[0].length };
  }

  /** Words after quote removal and expansion (no globbing; substitutions are not word-split). */
  async words(text: string): Promise<string[]> {
    const words: string[] = [];
    let cur = '',
      has = false,
      i = 0;
    const end = () => {
      if (has) words.push(cur);
      cur = '';
      has = false;
    };
    const splice = (items: string[]) =>
      items.forEach((w, k) => {
        if (k > 0) {
          words.push(cur);
          cur = '';
        }
        cur += w;
        has = true;
      });
    while (i < text.length) {
      const c = text[i];
      if (/\s/.test(c)) {
        end();
        i++;
        continue;
      }
      if (c === "'") {
        const close = text.indexOf("'", i + 1);
        cur += text.slice(i + 1, close);
        has = true;
        i = close + 1;
        continue;
      }
      if (c === '\\') {
        cur += text[i + 1] ?? '';
        has = true;
        i += 2;
        continue;
      }
      if (c === '"') {
        i++;
        has = true;
        while (text[i] !== '"') {
          assert.ok(i < text.length, `unterminated double quote in: ${text}`);
          if (text[i] === '\\' && '"\\$`'.includes(text[i + 1])) {
            cur += text[i + 1];
            i += 2;
            continue;
          }
          if (text[i] === '$') {
            const r = await this.dollar(text, i);
            if (r.array) splice(r.array);
            else cur += r.value;
            i = r.next;
            continue;
          }
          cur += text[i++];
        }
        i++;
        continue;
      }
      if (c === '$') {
        const r = await this.dollar(text, i);
        if (r.array) splice(r.array);
        else {
          cur += r.value;
          has ||= r.value !== '';
        }
        i = r.next;
        continue;
      }
      cur += c;
      has = true;
      i++;
    }
    end();
    return words;
  }

  /** The output of `$(text)`, trailing newlines removed. */
  private async substitute(text: string): Promise<string> {
    const words = await this.words(text);
    const fn = this.functions.get(words[0]);
    if (fn !== undefined) return this.substitute(fn);
    if (words[0] === 'cat' && words[1] === '/proc/sys/kernel/random/uuid' && words.length === 2)
      return randomUUID();
    if (words[0] === 'npx' && words[1] === 'openspine') return this.openspine(words.slice(2));
    throw new Error(`the README substitutes $(${text}), which this test does not know how to run`);
  }

  /**
   * `npx openspine ARGS` through the CLI's entry point, on the served data directory (the README's
   * commands use the default ./data, which is what `npm start` serves; here the last --data wins).
   */
  private async openspine(args: string[]): Promise<string> {
    const out: string[] = [],
      err: string[] = [];
    const { log, error } = console;
    console.log = (...a: unknown[]) => {
      out.push(a.join(' '));
    };
    console.error = (...a: unknown[]) => {
      err.push(a.join(' '));
    };
    let code: number;
    try {
      code = await main([...args, '--data', this.dataDir]);
    } finally {
      console.log = log;
      console.error = error;
    }
    assert.equal(code, 0, `npx openspine ${args.join(' ')} exited ${code}: ${err.join('\n')}`);
    return out.join('\n').replace(/\n+$/, '');
  }

  /** Runs a definition; returns the words of any other command (for the caller to run). */
  async run(cmd: Command): Promise<string[] | null> {
    const fn = /^([A-Za-z_]\w*)\(\)\s*\{\s*([\s\S]*?);?\s*\}$/.exec(cmd.text);
    if (fn) {
      this.functions.set(fn[1], fn[2]);
      return null;
    }
    const arr = /^([A-Za-z_]\w*)=\(([\s\S]*)\)$/.exec(cmd.text);
    if (arr) {
      this.arrays.set(arr[1], await this.words(arr[2]));
      return null;
    }
    const words = await this.words(cmd.text);
    const assign = /^([A-Za-z_]\w*)=([\s\S]*)$/.exec(words[0]);
    if (assign && words.length === 1) {
      this.vars.set(assign[1], assign[2]);
      return null;
    }
    return words;
  }
}

// ---- curl ----

interface CurlRequest {
  method: string;
  url: string;
  headers: [string, string][];
  body?: string;
}

function parseCurl(words: string[], where: string): CurlRequest {
  const headers: [string, string][] = [];
  let method: string | undefined, url: string | undefined, body: string | undefined;
  for (let k = 1; k < words.length; k++) {
    const w = words[k];
    if (w === '-s' || w === '--silent' || w === '-sS' || w === '-S') continue;
    if (w === '-H' || w === '--header') {
      const m = /^([^:]+):\s*([\s\S]*)$/.exec(words[++k] ?? '');
      assert.ok(m, `${where}: header '${words[k]}' is not 'Name: value'`);
      headers.push([m[1].trim(), m[2].trim()]);
    } else if (w === '-X' || w === '--request') {
      method = words[++k];
    } else if (w === '-d' || w === '--data' || w === '--data-raw' || w === '--data-binary') {
      body = words[++k];
      assert.ok(
        w === '--data-raw' || !body.startsWith('@'),
        `${where}: a body read from a file is not supported here`,
      );
    } else {
      assert.ok(!w.startsWith('-'), `${where}: curl option ${w} is not supported by this test`);
      assert.equal(url, undefined, `${where}: two URLs`);
      url = w;
    }
  }
  assert.ok(url, `${where}: no URL`);
  if (body !== undefined && !headers.some(([n]) => n.toLowerCase() === 'content-type')) {
    headers.push(['Content-Type', 'application/x-www-form-urlencoded']); // what curl -d sends by default
  }
  return { method: method ?? (body === undefined ? 'GET' : 'POST'), url, headers, body };
}

const header = (req: CurlRequest, name: string) =>
  req.headers.find(([n]) => n.toLowerCase() === name)?.[1];
const currentName = (p: any) =>
  p.name?.find((n: any) => (n.use ?? 'usual') === 'usual' && !n.period?.end) ?? p.name?.[0];
const same = (a: unknown, b: unknown) =>
  String(a ?? '').toLowerCase() === String(b ?? '').toLowerCase();

// ---- the examples, in README order ----

const blocks = shellBlocks(README)
  .map((b) => splitCommands(b.text, b.line))
  .filter((cmds) => cmds.some((c) => /^curl\s/.test(c.text)));
const curlLines = README.split('\n').filter((l) => /^\s*curl\s/.test(l)).length;
/** Each curl example with the definitions before it (since the previous curl of its block). */
const examples = blocks.flatMap((cmds) => {
  const groups: { setup: Command[]; curl: Command }[] = [];
  let setup: Command[] = [];
  for (const c of cmds) {
    if (/^curl\s/.test(c.text)) {
      groups.push({ setup, curl: c });
      setup = [];
    } else setup.push(c);
  }
  return groups;
});

describe('README examples on the `npm start` demo data (sqlite)', () => {
  let server: RunningServer;
  let shell: Shell;
  let cleanup: () => Promise<void>;
  const banner: string[] = [];
  /** Numbers a README $merge superseded, and their survivors. */
  const merged = new Map<string, string>();

  before(async () => {
    const isolated = await isolatedStoreConfig('sqlite');
    cleanup = isolated.cleanup;
    // `npm start` = `openspine serve --demo` with default settings, here on a free port, quiet logs
    const config = loadConfig(
      { data: isolated.config.dataDir, port: '0', store: 'sqlite', 'log-level': 'warn' },
      {},
    );
    server = await startServer(config, { demo: true, log: (line) => banner.push(line) });
    shell = new Shell(config.dataDir);
  });

  after(async () => {
    await server?.close();
    await cleanup?.();
  });

  it('the server holds the demo data, and the README reads the patient `npm start` prints', async () => {
    // the seeded patients, and the demo practice's own (src/seed/demo/demo-patients.ts)
    assert.equal(await server.repo.count('Patient'), 10_000 + DEMO_COHORT_ROLES.length);
    const printed = /\/Patient\/(\d{10})\s*$/m.exec(banner.join('\n'));
    assert.ok(printed, `npm start prints a read of a demo patient: ${banner.join('\n')}`);
    assert.ok(
      README.includes(`$B/Patient/${printed[1]}`),
      `the README reads ${printed[1]}, the patient npm start prints`,
    );
  });

  it('every curl line of the README is an example run here', () => {
    assert.ok(examples.length > 0, 'the README has curl examples');
    assert.equal(
      examples.length,
      curlLines,
      'every line starting with curl is inside a sh code block that this test runs',
    );
  });

  for (const { setup, curl } of examples) {
    const where = `README.md:${curl.line}`;
    it(`${where}: ${curl.text.replace(/\s+/g, ' ').slice(0, 110)}`, async () => {
      for (const c of setup)
        assert.equal(
          await shell.run(c),
          null,
          `README.md:${c.line}: '${c.text}' is neither a definition nor a curl example`,
        );
      const req = parseCurl((await shell.run(curl))!, where);
      assert.ok(
        req.url.startsWith(README_ORIGIN + '/'),
        `${where}: examples call npm start's address ${README_ORIGIN}, not ${req.url}`,
      );
      const url = new URL(req.url.slice(README_ORIGIN.length), server.url);
      const res = await fetch(url, {
        method: req.method,
        headers: req.headers,
        body: req.body,
        redirect: 'manual',
      });
      const text = await res.text();
      const expected = /\banswers (\d{3})\b/.exec(curl.comment)?.[1];
      if (expected) assert.equal(res.status, Number(expected), `${where}: ${text.slice(0, 400)}`);
      else
        assert.ok(
          res.status >= 200 && res.status < 300,
          `${where}: HTTP ${res.status} ${text.slice(0, 400)}`,
        );
      const body = JSON.parse(text);
      if (expected && !expected.startsWith('2')) return;

      assert.notEqual(
        body.resourceType,
        'OperationOutcome',
        `${where}: an OperationOutcome instead of a result: ${text.slice(0, 400)}`,
      );
      if (body.resourceType === 'Bundle' && body.type === 'searchset')
        assert.ok(body.entry?.length > 0, `${where}: the search found nothing`);

      const path = url.pathname;
      const read = /\/Patient\/(\d{10})$/.exec(path);
      if (req.method === 'GET' && read) {
        let survivor = read[1];
        while (merged.has(survivor)) survivor = merged.get(survivor)!;
        assert.equal(body.resourceType, 'Patient');
        assert.equal(body.id, survivor, `${where}: Patient/${read[1]} answered ${body.id}`);
      }
      if (req.method === 'PATCH') {
        const asked = /^W\/"(\d+)"$/.exec(header(req, 'if-match') ?? '');
        assert.ok(asked, `${where}: a PATCH example names its If-Match version`);
        assert.equal(
          res.headers.get('etag'),
          `W/"${Number(asked[1]) + 1}"`,
          `${where}: the PATCH was not applied (answered as a retry?)`,
        );
        const patch = JSON.parse(req.body!);
        for (const op of Array.isArray(patch) ? patch : patch.patches) {
          const top = /^\/([A-Za-z]+)$/.exec(op.path);
          if (top && (op.op === 'add' || op.op === 'replace'))
            assert.deepEqual(body[top[1]], op.value, `${where}: ${op.op} ${op.path}`);
        }
      }
      if (req.method === 'POST' && /\/Patient$/.test(path)) {
        assert.equal(res.status, 201, `${where}: a birth answers 201`);
        assert.match(res.headers.get('location') ?? '', /\/Patient\/\d{10}$/);
      }
      if (req.method === 'POST' && path.endsWith('/Patient/$merge')) {
        const value = (name: string) =>
          JSON.parse(req.body!).parameter.find((p: any) => p.name === name).valueIdentifier.value;
        assert.equal(body.id, value('target-patient-identifier'));
        merged.set(value('source-patient-identifier'), value('target-patient-identifier'));
      }
      if (req.method === 'GET' && /\/Patient$/.test(path)) {
        const q = url.searchParams;
        const found = body.entry.map((e: any) => e.resource);
        if (q.get('_fuzzy-match') === 'true') {
          assert.ok(
            found.some(
              (p: any) =>
                !same(currentName(p)?.family, q.get('family')) ||
                !same(currentName(p)?.given?.[0], q.get('given') ?? currentName(p)?.given?.[0]),
            ),
            `${where}: the fuzzy trace shows no misspelling: every match is named exactly as asked`,
          );
        }
        if (q.get('_history') === 'true') {
          assert.ok(
            found.some((p: any) => !same(currentName(p)?.family, q.get('family'))),
            `${where}: the _history trace shows no old name: every match has the family name asked for`,
          );
        }
      }
    });
  }
});
