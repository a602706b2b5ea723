/**
 * The interaction policy: oidc-provider's login and consent prompts, plus the journal's own
 * prompts between them, so every relying party gets them. Whether one of ours is left is the
 * step table's answer (src/login/steps.ts), the same answer /account and /console get:
 *  - change_password: the password was set by someone else (the CLI, a curator) and the
 *    person must choose their own before going on.
 *  - confirm_email: a parent or staff member (whose email is mandatory) has no confirmed address;
 *    never on prompt=none, and «Позже» is remembered for a day (a signed cookie).
 */
import { interactionPolicy as op, type KoaContextWithOIDC } from 'oidc-provider';
import type { JournalAccount } from './claims.js';
import { CHANGE_PASSWORD, CONFIRM_EMAIL, stepNamed, type StepName } from '../login/steps.js';

export { CHANGE_PASSWORD, CONFIRM_EMAIL, EMAIL_LATER_COOKIE, emailPromptPostponed } from '../login/steps.js';

/** oidc-provider's check of one of our prompts: the step table decides. */
function stepCheck(name: StepName, reason: string) {
  const step = stepNamed(name);
  return new op.Check(reason, step.why, async (ctx: KoaContextWithOIDC) => {
    const account = (ctx.oidc.account as JournalAccount | undefined)?.account;
    if (!account) return op.Check.NO_NEED_TO_PROMPT;
    const left = step.left?.({
      account,
      cookie: (name) => ctx.cookies.get(name, { signed: true }),
      silent: String(ctx.oidc.params?.prompt ?? '').split(' ').includes('none'),
      done: ctx.oidc.result as Record<string, unknown> | undefined,
    });
    return left ? op.Check.REQUEST_PROMPT : op.Check.NO_NEED_TO_PROMPT;
  });
}

export function interactionPolicy(): ReturnType<typeof op.base> {
  const policy = op.base();
  policy.add(new op.Prompt({ name: CHANGE_PASSWORD, requestable: false }, stepCheck('change_password', 'password_must_change')), 1); // after login, before consent
  policy.add(new op.Prompt({ name: CONFIRM_EMAIL, requestable: false }, stepCheck('confirm_email', 'email_unconfirmed')), 2); // after change_password, before consent
  return policy;
}
