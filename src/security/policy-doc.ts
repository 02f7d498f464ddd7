import { ACTIVITIES, ROLES, type Activity } from './policy.js';

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
  return lines.join('\n');
}
