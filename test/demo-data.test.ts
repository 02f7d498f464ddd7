/**
 * `npm start`'s demo working day (src/seed/demo/): startServer with demo on an empty store, then
 * each demo user's view through the platform's APIs with their own token: the GP reads a
 * registered patient's summary without break-glass, the pharmacist's tracker holds prescriptions in
 * many states, the privacy officer finds the break-glass alerts, the GP2GP transfers and the
 * referral worklists are there, the practice's mailboxes receive the day's events, a demo patient
 * reads their own record and referral. A second start adds nothing; two fresh stores seeded with
 * the same seed hold the same data.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { loadConfig, type Config } from '../src/config.js';
import { startServer, type RunningServer } from '../src/server.js';
import { UserDirectory } from '../src/security/accounts/users.js';
import {
  loadOrCreateSigningKey,
  mintPatientToken,
  mintToken,
  type SigningKey,
} from '../src/security/embedded-idp.js';
import { DEMO_STAFF, readDemoWorkday, type DemoWorkday } from '../src/seed/demo/index.js';
import type { Repository } from '../src/store/repository.js';
import { isolatedStoreConfig, storesUnderTest, type StoreKind } from './helpers/stores.js';

const SCR = '/summary-care-record/FHIR/R4';
const EPS = '/electronic-prescriptions/FHIR/R4';
const STU3 = '/referrals/FHIR/STU3';
const ODS = 'https://fhir.nhs.uk/Id/ods-organization-code';
/** The resource types the working day writes (a second start must add none of them). */
const TYPES = [
  'Patient',
  'SecurityUser',
  'PrescriberKey',
  'ScrDocument',
  'ScrConsentState',
  'EpsPrescription',
  'ReferralRequest',
  'Appointment',
  'Task',
  'Subscription',
  'NotificationMailboxEntry',
  'EmergencyAccess',
  'CareRelationship',
  'DemoWorkday',
];

type Staff = (typeof DEMO_STAFF)[keyof typeof DEMO_STAFF];

interface Demo {
  server: RunningServer;
  banner: string[];
  key: SigningKey;
  config: Config;
}

async function startDemo(base: Awaited<ReturnType<typeof isolatedStoreConfig>>['config']) {
  const config: Config = {
    ...loadConfig({ port: '0', 'log-level': 'warn', 'demo-patients': '20' }, {}),
    ...base,
  };
  const banner: string[] = [];
  const server = await startServer(config, { demo: true, log: (line) => banner.push(line) });
  return { server, banner, key: await loadOrCreateSigningKey(config.dataDir), config } as Demo;
}

async function call(
  demo: Demo,
  token: string,
  url: string,
  opts: { body?: unknown; headers?: Record<string, string> } = {},
) {
  const res = await demo.server.app.inject({
    method: opts.body === undefined ? 'GET' : 'POST',
    url,
    headers: {
      authorization: `Bearer ${token}`,
      'x-request-id': randomUUID(),
      ...(opts.body === undefined ? {} : { 'content-type': 'application/fhir+json' }),
      ...opts.headers,
    },
    payload: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined };
}

const staffToken = (demo: Demo, u: Staff) =>
  mintToken(demo.key, { userId: u.id, role: u.role, org: u.org, audience: demo.config.audience });

/** Each Task's state: the last `to` of its status history. */
const taskStates = (bundle: any): string[] =>
  (bundle.entry ?? []).map(
    (e: any) =>
      e.resource.extension
        .filter((x: any) => x.url.endsWith('eps-status-history'))
        .at(-1)
        .extension.find((x: any) => x.url === 'to').valueCode,
  );

async function eventually<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`gave up waiting for ${what}`);
}

async function counts(repo: Repository): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of TYPES) out[t] = await repo.count(t);
  return out;
}

/** The working day without what its services draw at random (UBRNs, the password, task ids, times). */
const comparable = (w: DemoWorkday) => ({
  cohort: w.cohort,
  logins: w.logins,
  summaries: w.summaries,
  prescriptions: w.prescriptions,
  referrals: w.referrals.map(({ nhs, state, clinic, password }) => ({
    nhs,
    state,
    clinic,
    letter: !!password,
  })),
  emergencyAccess: w.emergencyAccess,
});

for (const kind of await storesUnderTest()) {
  describe(`npm start's demo working day (${kind})`, () => {
    let demo: Demo;
    let workday: DemoWorkday;
    let store: Awaited<ReturnType<typeof isolatedStoreConfig>>;
    const cleanups: (() => Promise<void>)[] = [];
    const patient = (role: string) => workday.cohort.find((c) => c.role === role)!.nhs;

    before(async () => {
      store = await isolatedStoreConfig(kind as StoreKind);
      cleanups.push(store.cleanup);
      demo = await startDemo(store.config);
      workday = (await readDemoWorkday(demo.server.repo))!;
      assert.ok(workday, 'the working day is recorded');
    });
    after(async () => {
      await demo?.server.close();
      for (const c of cleanups) await c().catch(() => {});
    });

    it('prints the web application, the demo users, the patients and a UBRN with its password', async () => {
      const text = demo.banner.join('\n');
      assert.match(text, /\/Patient\/\d{10}$/m, 'the curl read is still printed');
      assert.match(text, /^Sign in as demo-clinician \(PIN 1234\)/m);
      assert.ok(text.includes(`Web application: ${demo.server.url}/app`), text);
      for (const u of Object.values(DEMO_STAFF))
        assert.match(text, new RegExp(`^  ${u.id} +1234 +${u.role} .* ${u.org} `, 'm'));
      for (const l of workday.logins) assert.ok(text.includes(`${l.id} (${l.nhs})`), l.id);
      const lettered = workday.referrals.find((r) => r.password)!;
      assert.ok(
        text.includes(
          `UBRN ${lettered.ubrn.replace(/(\d{4})(?=\d)/g, '$1 ')}, password ${lettered.password}`,
        ),
      );
      const users = new UserDirectory(demo.server.repo);
      for (const id of [
        ...Object.values(DEMO_STAFF).map((u) => u.id),
        'demo-clinician',
        ...workday.logins.map((l) => l.id),
      ])
        assert.ok(await users.authenticate(id, '1234'), `${id} signs in with PIN 1234`);
    });

    it("the GP reads a registered patient's summary record without break-glass; dissent withholds it", async () => {
      const gp = await staffToken(demo, DEMO_STAFF.gp);
      const nhs = patient('login-booked');
      const permit = (who: string) =>
        call(demo, gp, `${SCR}/$setPermission`, {
          body: {
            resourceType: 'Parameters',
            parameter: [
              {
                name: 'setPermissions',
                part: [
                  { name: 'nhsNumber', valueString: who },
                  {
                    name: 'permissionCode',
                    valueCoding: {
                      system: 'https://fhir.nhs.uk/CodeSystem/SCR-ACSPermission',
                      code: 'Yes',
                    },
                  },
                ],
              },
            ],
          },
        });
      const permission = await permit(nhs);
      assert.ok(permission.status < 300, JSON.stringify(permission.body));
      const summary = await call(demo, gp, `${SCR}/$summary?patient=${nhs}`);
      assert.equal(summary.status, 200, JSON.stringify(summary.body));
      // shown on the patient's permission, on the practice's relationship by registration: no break-glass
      assert.deepEqual(
        summary.body.meta.tag.map((t: any) => t.code),
        ['permission'],
      );
      const officer = await staffToken(demo, DEMO_STAFF.privacy);
      const audit = (type: string) =>
        call(
          demo,
          officer,
          `/security/FHIR/R4/AuditEvent?user=${DEMO_STAFF.gp.id}&patient=${nhs}&type=${type}`,
        );
      assert.ok((await audit('patient-record')).body.entry?.length, 'the read is audited');
      assert.equal((await audit('emergency-access')).body.entry?.length ?? 0, 0, 'no break-glass');
      const types = summary.body.entry.map((e: any) => e.resource.resourceType);
      assert.ok(
        types.includes('AllergyIntolerance') && types.includes('MedicationStatement'),
        types.join(),
      );
      assert.ok((await permit(patient('dissent'))).status < 300);
      const dissent = await call(demo, gp, `${SCR}/$summary?patient=${patient('dissent')}`);
      assert.ok([403, 404].includes(dissent.status), JSON.stringify(dissent.body));
      assert.match(JSON.stringify(dissent.body), /SCR_DISSENT/);
    });

    it("the pharmacist's tracker holds the nominated prescriptions in many states", async () => {
      const pharmacist = await staffToken(demo, DEMO_STAFF.pharmacist);
      const states = new Set<string>();
      for (const nhs of new Set(workday.prescriptions.map((p) => p.nhs))) {
        const res = await call(demo, pharmacist, `${EPS}/Task?patient:identifier=${nhs}`);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        for (const s of taskStates(res.body)) states.add(s);
      }
      for (const s of [
        'to-be-dispensed',
        'with-dispenser',
        'with-dispenser-active',
        'dispensed',
        'not-dispensed',
        'claimed',
        'cancelled',
        'future',
      ])
        assert.ok(states.has(s), `a prescription is ${s}: ${[...states].join(', ')}`);
    });

    it('the privacy officer finds the break-glass alerts with their reasons', async () => {
      const officer = await staffToken(demo, DEMO_STAFF.privacy);
      const res = await call(
        demo,
        officer,
        `/security/FHIR/R4/AuditEvent?type=emergency-access&_count=100`,
      );
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const text = JSON.stringify(res.body);
      assert.ok((res.body.entry ?? []).length >= 3, `three alerts: ${text.slice(0, 300)}`);
      for (const nhs of workday.emergencyAccess) assert.ok(text.includes(nhs), nhs);
      assert.match(text, /unconscious after a fall/);
    });

    it('the practice has a GP2GP transfer sent to it and one requested by the registration on PDS', async () => {
      const receptionist = await staffToken(demo, DEMO_STAFF.receptionist);
      const transfers = await eventually('both transfers', async () => {
        const res = await call(
          demo,
          receptionist,
          `/gp2gp/FHIR/R4/Task?requester=${DEMO_STAFF.gp.org}`,
        );
        return (res.body.entry ?? []).length >= 2
          ? res.body.entry.map((e: any) => e.resource)
          : undefined;
      });
      const byPatient = new Map(
        transfers.map((t: any) => [t.for.identifier.value, t.businessStatus.coding[0].code]),
      );
      assert.equal(byPatient.get(patient('transfer-sent')), 'sent');
      assert.equal(byPatient.get(patient('transfer-in')), 'requested');
      assert.ok(transfers.every((t: any) => t.owner.identifier.system === ODS));
    });

    it("the referrer's and the hospital's worklists hold the referrals", async () => {
      const list = (code: string) => ({
        resourceType: 'Parameters',
        parameter: [
          {
            name: 'listType',
            valueCodeableConcept: {
              coding: [
                { system: 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-ReferralListSelector-1', code },
              ],
            },
          },
        ],
      });
      const ubrns = (body: any): string[] =>
        (body.entry ?? []).map((e: any) => e.item.reference.replace('ReferralRequest/', ''));
      const gp = await staffToken(demo, DEMO_STAFF.gp);
      const awaiting = await call(demo, gp, `${STU3}/ReferralRequest/$ers.fetchworklist`, {
        body: list('AWAITING_BOOKING'),
        headers: {
          'nhsd-ers-business-function': 'REFERRING_CLINICIAN',
          'nhsd-end-user-organisation-ods': DEMO_STAFF.gp.org,
        },
      });
      assert.equal(awaiting.status, 200, JSON.stringify(awaiting.body));
      for (const r of workday.referrals.filter((r) => r.state === 'NOT_BOOKED'))
        assert.ok(ubrns(awaiting.body).includes(r.ubrn), `awaiting booking: ${r.ubrn}`);
      const consultant = await staffToken(demo, DEMO_STAFF.hospital);
      const review = await call(demo, consultant, `${STU3}/ReferralRequest/$ers.fetchworklist`, {
        body: list('REFERRALS_FOR_REVIEW'),
        headers: {
          'nhsd-ers-business-function': 'SERVICE_PROVIDER_CLINICIAN',
          'nhsd-end-user-organisation-ods': DEMO_STAFF.hospital.org,
        },
      });
      assert.equal(review.status, 200, JSON.stringify(review.body));
      for (const r of workday.referrals.filter((r) => r.state !== 'NOT_BOOKED'))
        assert.ok(ubrns(review.body).includes(r.ubrn), `for review: ${r.ubrn} (${r.state})`);
    });

    it("the practice's mailboxes receive the day's events", async () => {
      const gp = await staffToken(demo, DEMO_STAFF.gp);
      const subs = await call(demo, gp, '/events/FHIR/R4/Subscription');
      assert.equal(subs.status, 200);
      const ids: string[] = subs.body.entry.map((e: any) => e.resource.id);
      assert.equal(ids.length, 2);
      for (const id of ids)
        await eventually(`events in mailbox ${id}`, async () => {
          const box = await call(
            demo,
            gp,
            `/events/FHIR/R4/Subscription/${id}/$mailbox?_count=500`,
          );
          return (box.body.entry ?? []).length > 0 ? true : undefined;
        });
    });

    it('a demo patient reads their own record, summary and referral with their NHS login', async () => {
      const login = workday.logins.find((l) => l.role === 'login-awaiting-booking')!;
      const token = await mintPatientToken(demo.key, {
        nhsNumber: login.nhs,
        audience: demo.config.audience,
      });
      assert.equal(
        (await call(demo, token, `/personal-demographics/FHIR/R4/Patient/${login.nhs}`)).status,
        200,
      );
      const summary = await call(demo, token, `${SCR}/$summary?patient=${login.nhs}`);
      assert.equal(summary.status, 200, JSON.stringify(summary.body));
      const referrals = await call(demo, token, '/referrals/patient/ReferralRequest');
      assert.equal(referrals.status, 200, JSON.stringify(referrals.body));
      const lettered = workday.referrals.find((r) => r.password)!;
      assert.ok(JSON.stringify(referrals.body).includes(lettered.ubrn));
      const someoneElse = await call(
        demo,
        token,
        `${SCR}/$summary?patient=${patient('login-booked')}`,
      );
      assert.equal(someoneElse.status, 403);
    });

    it('a second start adds nothing; a fresh store seeded alike holds the same data', async () => {
      // wait for the asynchronous part of the day (the transfer PDS's event starts) before counting
      const receptionist = await staffToken(demo, DEMO_STAFF.receptionist);
      await eventually('the PDS-started transfer', async () => {
        const res = await call(
          demo,
          receptionist,
          `/gp2gp/FHIR/R4/Task?patient=${patient('transfer-in')}`,
        );
        return (res.body.entry ?? []).length ? true : undefined;
      });
      const before = await counts(demo.server.repo);
      assert.ok(
        Object.values(before).every((n) => n > 0),
        JSON.stringify(before),
      );
      await demo.server.close();
      demo = await startDemo(store.config);
      assert.deepEqual(await counts(demo.server.repo), before);
      assert.deepEqual(await readDemoWorkday(demo.server.repo), workday, 'the same working day');
      assert.ok(!demo.banner.some((l) => l.startsWith('Demo working day seeded')));

      const other = await isolatedStoreConfig(kind as StoreKind);
      cleanups.push(other.cleanup);
      const fresh = await startDemo(other.config);
      try {
        const again = (await readDemoWorkday(fresh.server.repo))!;
        assert.deepEqual(comparable(again), comparable(workday));
        const records = async (d: Demo) =>
          (
            await d.server.repo.readMany(
              'Patient',
              workday.cohort.map((c) => c.nhs),
            )
          )
            .map((s) => {
              const { meta, ...rest } = s.resource as any;
              return { rest, security: meta?.security };
            })
            .sort((a, b) => a.rest.id.localeCompare(b.rest.id));
        assert.deepEqual(await records(fresh), await records(demo));
      } finally {
        await fresh.server.close();
      }
    });
  });
}
