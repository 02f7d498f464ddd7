/**
 * The web application's pages for the restricted patient (restricted-location.test.ts): every GET
 * page of the application is read as the person whose journey it belongs to (the registered GP,
 * the pharmacist, the privacy officer, the operations engineer, the patient themselves), plus the
 * trace results page (a POST), and each answer is handed back for the same search for location
 * tell-tales as the APIs' answers. A new GET page not mapped here fails the test.
 */
import assert from 'node:assert/strict';
import type { TestPlatform } from './platform.js';
import { addPatientAccount, addStaff } from './web-browser.js';
import { signInPages, type WebPages } from './web-session.js';

export interface RestrictedWebIds {
  nhs: string;
  /** The restricted patient's dispensed prescription (short-form id). */
  prescription: string;
  /** The GP2GP transfer of their record to the GP's practice. */
  transfer: string;
  /** Their booked e-Referral. */
  ubrn: string;
  gpOrg: string;
  pharmacy: string;
}

/** Pages that show no patient, or only the signed-in person's own choices of where to go. */
export const WEB_PAGES_WITHOUT_PATIENT_DATA: Record<string, string> = {
  'GET /': 'a redirect to /app',
  'GET /app/sign-in': 'a redirect to the identity provider',
  'GET /app/callback': 'the end of sign-in: a redirect',
  'GET /app/accessibility': 'the accessibility statement',
  'GET /app': "the signed-in person's home page: their role, organisation and journeys",
  'GET /app/assets/nhsuk/*': "nhsuk-frontend's CSS, JavaScript and images",
  'GET /app/assets/app/*': "the application's own script and styles",
};

type Reader = 'gp' | 'pharmacist' | 'privacy' | 'ops' | 'patient';

/**
 * Pages read and searched like the rest, which need not name the patient: forms and lists not
 * about one patient, and the patient's own pages (the signed-in patient is who they are about).
 */
const GENERAL = new Set([
  'GET /app/me/access-log',
  'GET /app/me/pharmacy',
  'GET /app/me/prescriptions',
  'GET /app/me/prescriptions/:id',
  'GET /app/me/referrals/:ubrn',
  'GET /app/patients',
  'GET /app/prescriptions',
  'GET /app/privacy',
  'GET /app/referrals',
  'GET /app/operations',
  'GET /app/me/choices',
  'GET /app/me/referrals',
]);

/**
 * The page without its header: the header shows who is signed in (their name, role and own
 * organisation), and the GP's own practice is also the restricted patient's registered GP code,
 * which the search below looks for in what is said about the patient.
 */
const withoutHeader = (html: string) => html.replace(/<header[\s\S]*?<\/header>/, '');

/** Each GET page: who reads it, and its path for the restricted patient. */
function pagesFor(ids: RestrictedWebIds): Record<string, [Reader, string]> {
  const p = `/app/patient/${ids.nhs}`;
  return {
    'GET /app/patients': ['gp', '/app/patients'],
    'GET /app/patient/:nhsNumber': ['gp', p],
    'GET /app/patient/:nhsNumber/edit': ['gp', `${p}/edit`],
    'GET /app/patient/:nhsNumber/scr': ['gp', `${p}/scr`],
    'GET /app/patient/:nhsNumber/prescriptions': ['gp', `${p}/prescriptions`],
    'GET /app/patient/:nhsNumber/transfers': ['gp', `${p}/transfers`],
    'GET /app/patient/:nhsNumber/transfers/:id': ['gp', `${p}/transfers/${ids.transfer}`],
    'GET /app/patient/:nhsNumber/access-log': ['privacy', `${p}/access-log`],
    'GET /app/prescriptions': ['pharmacist', '/app/prescriptions'],
    'GET /app/prescriptions/:id': ['pharmacist', `/app/prescriptions/${ids.prescription}`],
    'GET /app/referrals': ['gp', '/app/referrals'],
    'GET /app/referrals/:ubrn': ['gp', `/app/referrals/${ids.ubrn}`],
    'GET /app/referrals/:ubrn/book': ['gp', `/app/referrals/${ids.ubrn}/book`],
    'GET /app/referrals/:ubrn/cancel-appointment': [
      'gp',
      `/app/referrals/${ids.ubrn}/cancel-appointment`,
    ],
    'GET /app/privacy': ['privacy', '/app/privacy'],
    'GET /app/operations': ['ops', '/app/operations'],
    'GET /app/me': ['patient', '/app/me'],
    'GET /app/me/access-log': ['patient', '/app/me/access-log'],
    'GET /app/me/choices': ['patient', '/app/me/choices'],
    'GET /app/me/pharmacy': ['patient', '/app/me/pharmacy'],
    'GET /app/me/prescriptions': ['patient', '/app/me/prescriptions'],
    'GET /app/me/prescriptions/:id': ['patient', `/app/me/prescriptions/${ids.prescription}`],
    'GET /app/me/referrals': ['patient', '/app/me/referrals'],
    'GET /app/me/referrals/:ubrn': ['patient', `/app/me/referrals/${ids.ubrn}`],
  };
}

/**
 * Signs each person in through the real pages, reads every GET page of the application for the
 * restricted patient and the trace results for a search that finds them, and hands each answer to
 * `record` under its route-table key. Returns the GET routes under /app it could not map.
 */
export async function readWebPagesFor(
  platform: TestPlatform,
  ids: RestrictedWebIds,
  family: string,
  birthDate: string,
  record: (route: string, url: string, status: number, body: string) => void,
): Promise<string[]> {
  // the people: the token user ids the API reads used, so their relationships and permissions hold
  const staff: [Reader, string, string, string][] = [
    ['gp', 'prescriber-1', 'R8000', ids.gpOrg],
    ['pharmacist', 'pharmacist-1', 'R8003', ids.pharmacy],
    ['privacy', 'privacy-1', 'R5080', 'X26'],
    ['ops', 'sysadmin-1', 'R8015', 'X26'],
  ];
  const as = new Map<Reader, WebPages>();
  for (const [reader, id, role, org] of staff) {
    await addStaff(platform, { id, name: `Web ${reader}`, pin: '4321', profiles: [{ role, org }] });
    as.set(reader, await signInPages(platform.app, { id, pin: '4321' }));
  }
  await addPatientAccount(platform, {
    id: 'restricted.patient',
    name: 'Restricted Patient',
    pin: 'patient-4321',
    nhsNumber: ids.nhs,
  });
  as.set(
    'patient',
    await signInPages(platform.app, { id: 'restricted.patient', pin: 'patient-4321' }),
  );

  const pages = pagesFor(ids);
  const routes = platform.app.routeTable
    .filter(
      (r) => r.method === 'GET' && (r.url === '/app' || r.url.startsWith('/app/') || r.url === '/'),
    )
    .map((r) => `GET ${r.url}`);
  for (const route of routes) {
    const page = pages[route];
    if (!page) continue;
    const [reader, path] = page;
    const res = await as.get(reader)!.get(path);
    const key = GENERAL.has(route) ? `${route} (web page, general)` : `${route} (web page)`;
    // a prescription's pages show the ID the person asked for (it carries the prescriber's ODS code,
    // the practice): an echo of what the caller sent, as EPS's own echo rule; nothing else may
    const echoed = route.includes('/prescriptions/:id') ? ids.prescription : null;
    const body = withoutHeader(res.body);
    record(
      key,
      path,
      res.statusCode,
      echoed ? body.split(echoed).join('[the ID asked for]') : body,
    );
  }

  // the trace results page: a POST search by name and birth date that finds the patient
  const gp = as.get('gp')!;
  const form = await gp.get('/app/patients');
  const csrf = /name="_csrf" value="([^"]+)"/.exec(form.body)?.[1];
  assert.ok(csrf, 'the search form carries a form token');
  const [year, month, day] = birthDate.split('-');
  const results = await gp.post('/app/patients', {
    _csrf: csrf,
    by: 'details',
    'family-name': family,
    'birth-date[day]': day,
    'birth-date[month]': month,
    'birth-date[year]': year,
  });
  record(
    'POST /app/patients (web page: trace results)',
    '/app/patients',
    results.statusCode,
    withoutHeader(results.body),
  );
  assert.match(
    results.body,
    new RegExp(ids.nhs.slice(6)),
    'the trace found the restricted patient',
  );

  return routes.filter((r) => !pages[r] && !WEB_PAGES_WITHOUT_PATIENT_DATA[r]);
}
