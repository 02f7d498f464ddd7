import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { renderPolicyTable } from '../src/security/policy-doc.js';

describe('docs/security.md', () => {
  it('holds the RBAC policy table exactly as src/security/policy.ts defines it', () => {
    const doc = readFileSync(new URL('../docs/security.md', import.meta.url), 'utf8');
    const documented = /<!-- policy-table:start -->\n([\s\S]*?)\n<!-- policy-table:end -->/.exec(
      doc,
    )?.[1];
    assert.ok(documented, 'the document has a policy table section');
    assert.equal(
      documented,
      renderPolicyTable(),
      'regenerate it with renderPolicyTable() from src/security/policy-doc.ts',
    );
  });
});
