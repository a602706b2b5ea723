/**
 * The interaction policy: oidc-provider's login and consent prompts, plus the journal's own
 * prompts between them, so every relying party gets them:
 *  - change_password: the password was set by someone else (the CLI, later a curator) and the
 *    person must choose their own before going on.
 */
import { interactionPolicy as op, type KoaContextWithOIDC } from 'oidc-provider';
import type { JournalAccount } from './claims.js';

export const CHANGE_PASSWORD = 'change_password';

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
  return policy;
}
