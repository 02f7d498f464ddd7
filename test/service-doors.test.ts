/**
 * Each service has one public door: another service imports it only through its index.ts
 * (architecture review 4.1; issue 17). Read off the import lines of every source file under
 * src/services/, so a deep import added anywhere is caught without anyone writing a test.
 *
 * Enforced for every service. eslint (eslint.config.js) keeps the same rule as you type; this test
 * keeps it independent of the linter's configuration.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const SERVICES = resolve(dirname(fileURLToPath(import.meta.url)), '../src/services');

/**
 * Module specifiers of a source file: static imports and re-exports (one line or many), side-effect
 * and dynamic imports.
 */
export function importSpecifiers(source: string): string[] {
  const patterns = [
    /^\s*(?:import|export)\b[^;()]*?\bfrom\s*['"]([^'"]+)['"]/gm,
    /^\s*import\s*['"]([^'"]+)['"]/gm,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  return patterns.flatMap((p) => [...source.matchAll(p)].map((m) => m[1]));
}

interface CrossImport {
  from: string;
  service: string;
  target: string;
  throughDoor: boolean;
}

/** Where a relative specifier in `file` lands among the services, when it lands in another service's folder. */
function crossImport(file: string, spec: string): CrossImport | null {
  if (!spec.startsWith('.')) return null;
  const from = relative(SERVICES, file).split(sep).join('/');
  const target = relative(SERVICES, resolve(dirname(file), spec))
    .split(sep)
    .join('/');
  if (target.startsWith('..')) return null; // outside src/services
  const [own] = from.split('/');
  const [service, ...rest] = target.split('/');
  if (service === own || (rest.length === 0 && target.includes('.'))) return null;
  const inside = rest.join('/').replace(/\.(js|ts)$/, '');
  return { from, service, target, throughDoor: inside === '' || inside === 'index' };
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

const crossImports = sourceFiles(SERVICES).flatMap((file) =>
  importSpecifiers(readFileSync(file, 'utf8'))
    .map((spec) => crossImport(file, spec))
    .filter((c): c is CrossImport => c !== null),
);

describe('service doors', () => {
  it('reads single-line, multi-line, re-export, side-effect and dynamic imports', () => {
    const source = [
      "import { a } from '../pds/patient-model.js';",
      'import {\n  b,\n  c,\n} from "../pds/trace.js";',
      "export { d } from '../pds/index.js';",
      "import type { E } from './own.js';",
      "import '../pds/side-effect.js';",
      "const f = await import('../pds/lazy.js');",
      'export function g() { return 1; }',
    ].join('\n');
    assert.deepEqual(
      importSpecifiers(source).sort(),
      [
        '../pds/index.js',
        '../pds/lazy.js',
        '../pds/patient-model.js',
        '../pds/side-effect.js',
        '../pds/trace.js',
        './own.js',
      ].sort(),
    );
    const file = join(SERVICES, 'scr', 'x.ts');
    assert.equal(crossImport(file, '../pds/patient-model.js')?.throughDoor, false);
    assert.equal(crossImport(file, '../pds/index.js')?.throughDoor, true);
    assert.equal(crossImport(file, '../pds')?.throughDoor, true);
    assert.equal(crossImport(file, './document-model.js'), null);
    assert.equal(crossImport(file, '../../fhir/errors.js'), null);
  });

  it('finds the service source files', () => {
    assert.ok(
      crossImports.some((c) => c.service === 'pds'),
      'other services use PDS, through its door',
    );
  });

  it('every service folder has a door: plugin.ts for the platform, index.ts for other code', () => {
    const folders = readdirSync(SERVICES, { withFileTypes: true }).filter((e) => e.isDirectory());
    assert.ok(folders.length >= 10, 'the service folders are found');
    const without = folders
      .filter((e) => {
        const files = readdirSync(join(SERVICES, e.name));
        return !files.includes('index.ts') && !files.includes('plugin.ts');
      })
      .map((e) => e.name);
    assert.deepEqual(without, [], 'a service folder with neither plugin.ts nor index.ts');
  });

  it('the platform outside src/services uses a service through its index.ts (the app: its plugin.ts)', () => {
    const SRC = resolve(SERVICES, '..');
    const APP = join(SRC, 'http', 'app.ts');
    const outside = sourceFiles(SRC).filter((f) => !f.startsWith(SERVICES + sep));
    assert.ok(outside.length > 50, 'the platform source files are found');
    const deep = outside.flatMap((file) =>
      importSpecifiers(readFileSync(file, 'utf8'))
        .filter((spec) => spec.startsWith('.'))
        .map((spec) =>
          relative(SERVICES, resolve(dirname(file), spec))
            .split(sep)
            .join('/'),
        )
        .filter((target) => !target.startsWith('..') && target.includes('/'))
        .filter((target) => !/^[^/]+\/index(\.js|\.ts)?$/.test(target))
        // the HTTP app registers each service's plugin; nothing else imports one
        .filter((target) => !(file === APP && /^[^/]+\/plugin(\.js|\.ts)?$/.test(target)))
        .map((target) => `${relative(SRC, file)} -> ${target}`),
    );
    assert.deepEqual(deep, [], 'use the service through its index.ts');
  });

  it('services reach one another only through src/services/<service>/index.ts', () => {
    const deep = crossImports.filter((c) => !c.throughDoor).map((c) => `${c.from} -> ${c.target}`);
    assert.deepEqual(
      deep,
      [],
      'import another service through its index.ts (re-export what is needed there)',
    );
  });
});
