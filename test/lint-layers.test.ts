/**
 * The layer rules in eslint.config.js do fail a wrong import (issue 17): each case lints a small
 * source as if it were a file at the given path, through ESLint's own API and the project's
 * configuration, and expects the import refused or allowed.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const eslint = new ESLint({ cwd: ROOT });

/** The rule ids eslint reports for `source` placed at `path` (relative to the repository). */
async function ruleIdsFor(path: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath: resolve(ROOT, path) });
  return result.messages.map((m) => m.ruleId ?? `fatal: ${m.message}`);
}

const CASES: [string, string, string, boolean][] = [
  // [what, file, import line, refused]
  [
    'a service reaching past another service door',
    'src/services/eps/wrong.ts',
    "import { PATIENT } from '../pds/patient-model.js';",
    true,
  ],
  [
    'a service using another service through its door',
    'src/services/eps/right.ts',
    "import { PATIENT } from '../pds/index.js';",
    false,
  ],
  [
    'a service importing the HTTP layer',
    'src/services/scr/wrong.ts',
    "import { registerFhirConventions } from '../../http/fhir-conventions.js';",
    true,
  ],
  [
    'a service plugin importing the HTTP layer',
    'src/services/scr/plugin.ts',
    "import { registerFhirConventions } from '../../http/fhir-conventions.js';",
    false,
  ],
  [
    'the store importing a service',
    'src/store/wrong.ts',
    "import { PATIENT } from '../services/pds/index.js';",
    true,
  ],
  [
    'fhir/ importing the HTTP layer',
    'src/fhir/wrong.ts',
    "import { buildApp } from '../http/app.js';",
    true,
  ],
  [
    'security importing the HTTP layer',
    'src/security/wrong.ts',
    "import type { AppDeps } from '../http/app.js';",
    true,
  ],
  [
    'audit importing a service',
    'src/audit/wrong.ts',
    "import { PATIENT } from '../services/pds/index.js';",
    true,
  ],
  [
    'the CLI reaching past a service door',
    'src/cli/wrong.ts',
    "import { PATIENT } from '../services/pds/patient-model.js';",
    true,
  ],
  [
    'the CLI importing a service plugin (only the HTTP app registers plugins)',
    'src/cli/wrong.ts',
    "import { pdsPlugin } from '../services/pds/plugin.js';",
    true,
  ],
  [
    'the HTTP app registering a service plugin',
    'src/http/right.ts',
    "import { pdsPlugin } from '../services/pds/plugin.js';",
    false,
  ],
  [
    'the HTTP layer importing a service through its door',
    'src/http/right.ts',
    "import { PATIENT } from '../services/pds/index.js';",
    false,
  ],
];

describe('lint keeps the layers', () => {
  for (const [what, file, line, refused] of CASES) {
    it(`${refused ? 'refuses' : 'allows'} ${what}`, async () => {
      const ids = await ruleIdsFor(file, `${line}\nexport const used = [${usedName(line)}];\n`);
      assert.equal(
        ids.includes('no-restricted-imports'),
        refused,
        `${file}: ${line} -> ${JSON.stringify(ids)}`,
      );
      assert.ok(!ids.some((id) => id.startsWith('fatal')), JSON.stringify(ids));
    });
  }

  it('refuses a line longer than 120 characters of code', async () => {
    const long = `export const x = [${Array.from({ length: 40 }, (_, i) => i).join(', ')}];\n`;
    assert.ok(long.length > 121);
    assert.ok((await ruleIdsFor('src/fhir/long.ts', long)).includes('max-len'));
  });
});

function usedName(line: string): string {
  return /import (?:type )?\{ (\w+)/.exec(line)![1];
}
