/**
 * The interaction policy: oidc-provider's login and consent prompts, plus the journal's own
 * prompts between them, so every relying party gets them:
 *  - change_password: the password was set by someone else (the CLI, later a curator) and the
 *    person must choose their own before going on.
 *  - confirm_email: a parent or staff member (whose email is mandatory) has no confirmed address;
 *    never on prompt=none, and «Позже» is remembered for a day (a signed cookie).
 */
import { interactionPolicy as op, type KoaContextWithOIDC } from 'oidc-provider';
import type { JournalAccount } from './claims.js';

export const CHANGE_PASSWORD = 'change_password';
export const CONFIRM_EMAIL = 'confirm_email';
/** Signed cookie `<account id>.<until, ms>`: the person chose «Позже» (or a letter is on its way). */
export const EMAIL_LATER_COOKIE = 'jid_email_later';

export function emailPromptPostponed(cookie: string | undefined, accountId: string, now = Date.now()): boolean {
  if (!cookie) return false;
  const [id, until] = cookie.split('.');
  return id === accountId && Number(until) > now;
}

export function interactionPolicy(): ReturnType<typeof op.base> {
  const policy = op.base();
  policy.add(
    new op.Prompt(
      { name: CHANGE_PASSWORD, requestable: false },
      new op.Check('password_must_change', 'the password was set by someone else', async (ctx: KoaContextWithOIDC) => {
        const account = ctx.oidc.account as JournalAccount | undefined;
        return account?.account.must_change_password ? op.Check.REQUEST_PROMPT : op.Check.NO_NEED_TO_PROMPT;
      }),
    ),
    1, // after login, before consent
  );
  policy.add(
    new op.Prompt(
      { name: CONFIRM_EMAIL, requestable: false },
      new op.Check('email_unconfirmed', 'the mandatory email address is not confirmed', async (ctx: KoaContextWithOIDC) => {
        const account = (ctx.oidc.account as JournalAccount | undefined)?.account;
        if (!account || account.email_verified_at || (account.kind !== 'parent' && account.kind !== 'staff')) return op.Check.NO_NEED_TO_PROMPT;
        if (String(ctx.oidc.params?.prompt ?? '').split(' ').includes('none')) return op.Check.NO_NEED_TO_PROMPT;
        if (ctx.oidc.result?.[CONFIRM_EMAIL]) return op.Check.NO_NEED_TO_PROMPT;
        if (emailPromptPostponed(ctx.cookies.get(EMAIL_LATER_COOKIE, { signed: true }), account.id)) return op.Check.NO_NEED_TO_PROMPT;
        return op.Check.REQUEST_PROMPT;
      }),
    ),
    2, // after change_password, before consent
  );
  return policy;
}
