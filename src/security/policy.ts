/**
 * National RBAC as data: which activities each role code may perform. Routes declare the activity
 * they need; a role not listed, or an activity not in its list, is denied. The security issue
 * extends this table (SCR, EPS, audit); the shape stays the same.
 */
export const ACTIVITIES = {
  'pds.read': 'View patient demographics',
  'pds.search': 'Trace a patient by demographics',
  'pds.update': 'Update patient demographics (including death)',
  'pds.create': 'Register a birth (allocate an NHS Number)',
  'pds.merge': 'Merge records (supersede an NHS Number)',
  'audit.read': 'View the audit trail',
} as const;

export type Activity = keyof typeof ACTIVITIES;

export interface RoleDefinition {
  name: string;
  activities: readonly Activity[];
}

/** Role codes from the national RBAC database (job role codes). */
export const ROLES: Readonly<Record<string, RoleDefinition>> = {
  R8000: { name: 'Clinical Practitioner Access Role', activities: ['pds.read', 'pds.search', 'pds.update', 'pds.create'] },
  R8008: { name: 'Admin/Clinical Support Access Role', activities: ['pds.read', 'pds.search', 'pds.update', 'pds.create'] },
  R8013: {
    name: 'Health Records Manager Access Role',
    activities: ['pds.read', 'pds.search', 'pds.update', 'pds.create', 'pds.merge'],
  },
  R8003: { name: 'Health Professional Access Role', activities: ['pds.read', 'pds.search'] },
  R5080: { name: 'Privacy Officer', activities: ['audit.read'] },
};

export function isKnownRole(code: string): boolean {
  return Object.hasOwn(ROLES, code);
}

export function roleAllows(roleCode: string, activity: Activity): boolean {
  const role = Object.hasOwn(ROLES, roleCode) ? ROLES[roleCode] : undefined;
  return role !== undefined && role.activities.includes(activity);
}
