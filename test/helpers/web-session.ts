/**
 * The web application without a browser: the real sign-in (the application's PKCE start, the
 * identity provider's pages, the callback) driven through Fastify's inject with a small cookie
 * jar, then page GETs as that person. For checks that read many pages' HTML (the restricted
 * patient's location rule); journeys are tested in a real browser (web-browser.ts).
 */
import assert from 'node:assert/strict';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';

export interface WebPages {
  /** GETs a page (path under this platform) as the signed-in person. */
  get(path: string): Promise<LightMyRequestResponse>;
  /** POSTs a form to a page as the signed-in person (the form's `_csrf` is the caller's to send). */
  post(path: string, form: Record<string, string>): Promise<LightMyRequestResponse>;
}

function cookieJar() {
  const jar = new Map<string, string>();
  return {
    take(res: LightMyRequestResponse) {
      const raw = res.headers['set-cookie'];
      for (const line of Array.isArray(raw) ? raw : raw ? [raw] : []) {
        const [pair] = line.split(';');
        const eq = pair.indexOf('=');
        const name = pair.slice(0, eq).trim();
        const value = pair.slice(eq + 1).trim();
        if (/Expires=Thu, 01 Jan 1970/i.test(line) || value === '') jar.delete(name);
        else jar.set(name, value);
      }
    },
    header: () => [...jar].map(([k, v]) => `${k}=${v}`).join('; '),
  };
}

const hidden = (html: string, name: string) =>
  new RegExp(`name="${name}" value="([^"]*)"`)
    .exec(html)?.[1]
    ?.replace(/&#(\d+);/g, (_, c) => String.fromCharCode(Number(c)));

/** Signs in through the real pages; `profileId` picks a staff user's role profile (else the first). */
export async function signInPages(
  app: FastifyInstance,
  user: { id: string; pin: string },
  profileId?: string,
): Promise<WebPages> {
  const jar = cookieJar();
  const go = async (opts: {
    method?: 'GET' | 'POST';
    url: string;
    form?: Record<string, string>;
  }) => {
    const res = await app.inject({
      method: opts.method ?? 'GET',
      url: opts.url,
      headers: {
        cookie: jar.header(),
        ...(opts.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      ...(opts.form ? { payload: new URLSearchParams(opts.form).toString() } : {}),
    });
    jar.take(res);
    return res;
  };
  const pathOf = (location: unknown) => {
    const url = new URL(String(location), 'http://localhost');
    return `${url.pathname}${url.search}`;
  };
  const start = await go({ url: '/app/sign-in' });
  assert.equal(start.statusCode, 302);
  const loginPage = await go({ url: pathOf(start.headers.location) });
  assert.equal(loginPage.statusCode, 200);
  const login = await go({
    method: 'POST',
    url: '/oauth2/authorize',
    form: { step: 'login', tx: hidden(loginPage.body, 'tx')!, user: user.id, pin: user.pin },
  });
  let back = login;
  if (login.statusCode === 200) {
    const profile =
      profileId ?? /name="profile" value="([^"]+)"/.exec(login.body)?.[1] ?? 'missing';
    back = await go({
      method: 'POST',
      url: '/oauth2/authorize',
      form: { step: 'profile', tx: hidden(login.body, 'tx')!, profile },
    });
  }
  assert.equal(back.statusCode, 302, `sign-in did not complete: ${back.body.slice(0, 200)}`);
  const callback = await go({ url: pathOf(back.headers.location) });
  assert.equal(callback.statusCode, 303, `callback refused: ${callback.body.slice(0, 200)}`);
  return {
    get: (path) => go({ url: path }),
    post: (path, form) => go({ method: 'POST', url: path, form }),
  };
}
