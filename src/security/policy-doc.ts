import {
  ACTIVITIES,
  ERS_BUSINESS_FUNCTIONS,
  ERS_FUNCTION_ROLES,
  ROLES,
  type Activity,
} from './policy.js';

/** The RBAC policy table as Markdown, for docs/security.md (a test keeps the two in step). */
export function renderPolicyTable(): string {
  const activities = Object.keys(ACTIVITIES) as Activity[];
  const roles = Object.keys(ROLES);
  const lines = [
    `| Activity | National code | Clinical | App scope | ${roles.join(' | ')} |`,
    `|---|---|---|---|${roles.map(() => '---').join('|')}|`,
  ];
  for (const a of activities) {
    const def = ACTIVITIES[a];
    const cells = roles.map((r) => (ROLES[r].activities.includes(a) ? 'yes' : ''));
    lines.push(
      `| \`${a}\` ${def.name} | ${def.nationalCode ?? ''} | ${def.clinical ? 'yes' : ''} | ${def.applicationGrantable ? 'yes' : ''} | ${cells.join(' | ')} |`,
    );
  }
  lines.push('', 'Roles: ' + roles.map((r) => `${r} ${ROLES[r].name}`).join('; ') + '.');
  lines.push(
    '',
    'e-RS business functions (the `NHSD-eRS-Business-Function` header): a request needs a role allowing',
    "the route's activity and a function allowing it that the role may act in.",
    '',
    '| Business function | Activities | Roles |',
    '|---|---|---|',
  );
  for (const [fn, allowed] of Object.entries(ERS_BUSINESS_FUNCTIONS)) {
    const granted = Object.hasOwn(ERS_FUNCTION_ROLES, fn) ? ERS_FUNCTION_ROLES[fn] : [];
    const names = [...new Set(allowed)].map((a) => `\`${a}\``).join(', ');
    lines.push(`| ${fn} | ${names || '(none yet)'} | ${granted.join(', ')} |`);
  }
  return lines.join('\n');
}
