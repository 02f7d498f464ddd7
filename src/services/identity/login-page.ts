import type { SecurityUser } from '../../security/accounts/users.js';
import { roleName } from '../../security/policy.js';
import { escapeHtml, renderPage } from './html.js';

/**
 * The development stand-in for the smartcard: a user id and passcode, then the choice of role
 * profile, as the CIS2 sign-in shows it. Every value placed in a page goes through escapeHtml.
 */
export function loginForm(
  tx: string,
  clientName: string,
  opts: { message?: string; userId?: string } = {},
): string {
  return renderPage(
    'Sign in to OpenSpine',
    `
<p>${escapeHtml(clientName)} is asking you to sign in. <small>(Development sign-in: stands in for the NHS smartcard.)</small></p>
${opts.message ? `<p class="error" role="alert">${escapeHtml(opts.message)}</p>` : ''}
<form method="post" action="authorize">
<input type="hidden" name="step" value="login">
<input type="hidden" name="tx" value="${escapeHtml(tx)}">
<label for="user">User ID</label>
<input type="text" id="user" name="user" autocomplete="username" required value="${escapeHtml(opts.userId ?? '')}">
<label for="pin">Passcode</label>
<input type="password" id="pin" name="pin" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>`,
  );
}

export function profilePicker(tx: string, user: SecurityUser): string {
  const options = user.roleProfiles
    .map(
      (
        p,
        i,
      ) => `<label class="profile"><input type="radio" name="profile" value="${escapeHtml(p.id)}"${i === 0 ? ' checked' : ''} required>
${escapeHtml(roleName(p.role))} (${escapeHtml(p.role)}) at ${escapeHtml(p.orgName ? `${p.orgName} (${p.org})` : p.org)}</label>`,
    )
    .join('\n');
  return renderPage(
    'Choose your role',
    `
<p>Signed in as <strong>${escapeHtml(user.name)}</strong> (${escapeHtml(user.id)}). Choose the role you are working in:</p>
<form method="post" action="authorize">
<input type="hidden" name="step" value="profile">
<input type="hidden" name="tx" value="${escapeHtml(tx)}">
${options}
<button type="submit">Continue</button>
</form>`,
  );
}
