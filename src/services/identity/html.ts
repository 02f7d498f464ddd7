import { createHash } from 'node:crypto';
import type { FastifyReply } from 'fastify';

/** Escapes text for HTML element content and double-quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#212b32}
h1{font-size:1.5rem;color:#005eb8}label{display:block;margin:.8rem 0 .2rem;font-weight:600}
input[type=text],input[type=password]{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}
button{margin-top:1rem;padding:.6rem 1.2rem;font-size:1rem;background:#007f3b;color:#fff;border:0;border-radius:4px}
.error{border-left:6px solid #d5281b;padding:.5rem 1rem;background:#fdecea}.profile{display:block;font-weight:400;margin:.6rem 0}
pre{white-space:pre-wrap;word-break:break-all;background:#f0f4f5;padding:.8rem}small{color:#4c6272}`;

// the one inline style block is allowed by its hash, so the policy needs no 'unsafe-inline'
const STYLE_HASH = `'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`;

/** A whole page; `body` must already be escaped HTML. */
export function renderPage(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><h1>${escapeHtml(title)}</h1>
${body}
</body></html>`;
}

/** The CSP source for where a form on the page may end up (form-action also covers the redirect after the POST). */
export function formTarget(uri: string): string {
  const url = new URL(uri);
  return url.origin === 'null' ? url.protocol : url.origin;
}

/**
 * Headers for every sign-in page and redirect: never cached (they carry one-time values), never
 * framed (clickjacking of the login form), no scripts, no referrer leaking codes.
 */
export function noStoreHeaders(reply: FastifyReply, formTargets: string[] = []): FastifyReply {
  const formAction = ["'self'", ...formTargets].join(' ');
  return reply.headers({
    'cache-control': 'no-store',
    pragma: 'no-cache',
    'content-security-policy': `default-src 'none'; style-src ${STYLE_HASH}; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'`,
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  });
}

export function sendHtml(
  reply: FastifyReply,
  status: number,
  html: string,
  formTargets: string[] = [],
): FastifyReply {
  return noStoreHeaders(reply, formTargets)
    .code(status)
    .type('text/html; charset=utf-8')
    .send(html);
}

/** A page that only says what went wrong (used where redirecting back to the client would be unsafe). */
export function errorPage(title: string, message: string): string {
  return renderPage(title, `<p class="error">${escapeHtml(message)}</p>`);
}
