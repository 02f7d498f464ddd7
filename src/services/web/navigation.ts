import { ROLES, type Activity } from '../../security/policy.js';
import { WEB_BASE } from './paths.js';
import type { WebUser } from './web-session.js';

export interface NavItem {
  href: string;
  text: string;
  /** What the item is for, shown on the home page's cards. */
  description: string;
}

const can = (user: WebUser, activity: Activity) =>
  (ROLES[user.role]?.activities as readonly string[] | undefined)?.includes(activity) ?? false;

/**
 * The journeys a signed-in person's role reaches, in the order the home page and the header show
 * them. A role sees only what its activities allow; the APIs check again on every call.
 */
export function navigationFor(user: WebUser): NavItem[] {
  if (user.kind === 'patient')
    return [
      {
        href: `${WEB_BASE}/me`,
        text: 'My details',
        description: 'Your name, address, contact details and GP surgery.',
      },
      {
        href: `${WEB_BASE}/me/access-log`,
        text: 'Who has looked at my record',
        description: 'Every time staff have viewed or changed your record.',
      },
      {
        href: `${WEB_BASE}/me/choices`,
        text: 'My choices',
        description: 'Your Summary Care Record and national data opt-out choices.',
      },
      {
        href: `${WEB_BASE}/me/pharmacy`,
        text: 'My nominated pharmacy',
        description: 'The pharmacy your prescriptions are sent to.',
      },
      {
        href: `${WEB_BASE}/me/prescriptions`,
        text: 'My prescriptions',
        description: 'Your prescriptions and where they are.',
      },
      {
        href: `${WEB_BASE}/me/referrals`,
        text: 'My referrals',
        description: 'Book or change a hospital appointment you have been referred for.',
      },
    ];
  const items: NavItem[] = [];
  if (can(user, 'pds.search'))
    items.push({
      href: `${WEB_BASE}/patients`,
      text: 'Find a patient',
      description:
        'Search the national register by NHS Number or by name, date of birth and postcode.',
    });
  if (can(user, 'eps.track'))
    items.push({
      href: `${WEB_BASE}/prescriptions`,
      text: 'Prescription tracker',
      description:
        "Find a prescription by its ID or a patient's NHS Number and see where each item is.",
    });
  if (can(user, 'ers.worklist.read'))
    items.push({
      href: `${WEB_BASE}/referrals`,
      text: 'Referrals',
      description: "Your organisation's e-Referral worklists, and booking.",
    });
  if (can(user, 'audit.read'))
    items.push({
      href: `${WEB_BASE}/privacy`,
      text: 'Privacy alerts',
      description:
        "Emergency access and self-claimed relationships to review, and any patient's access log.",
    });
  if (can(user, 'messaging.admin'))
    items.push({
      href: `${WEB_BASE}/operations`,
      text: 'Service health',
      description: 'The store, the message bus, the audit signer, queue depths and dead letters.',
    });
  return items;
}

/** The tabs of a patient's record, for the staff pages under /app/patient/:nhsNumber. */
export function patientTabs(user: WebUser, nhsNumber: string): NavItem[] {
  const base = `${WEB_BASE}/patient/${nhsNumber}`;
  const tabs: NavItem[] = [
    {
      href: base,
      text: 'Demographics',
      description: 'Name, address, contact details, GP and nominated pharmacy.',
    },
  ];
  if (can(user, 'scr.view'))
    tabs.push({
      href: `${base}/scr`,
      text: 'Summary Care Record',
      description: 'Allergies, medications and adverse reactions.',
    });
  if (can(user, 'eps.track'))
    tabs.push({
      href: `${base}/prescriptions`,
      text: 'Prescriptions',
      description: "The patient's prescriptions and their status.",
    });
  if (can(user, 'gp2gp.transfer'))
    tabs.push({
      href: `${base}/transfers`,
      text: 'GP2GP transfers',
      description: 'Record transfers between GP practices.',
    });
  if (can(user, 'audit.read'))
    tabs.push({
      href: `${base}/access-log`,
      text: 'Access log',
      description: "Who has looked at this patient's record.",
    });
  return tabs;
}

export { can as roleCan };
