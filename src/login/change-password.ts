/**
 * The change_password prompt: a person whose password someone else set (the CLI, a curator)
 * chooses their own before going on to the app. The journal's password rule applies.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { AppContext } from '../server/context.js';
import { render, tr } from '../server/views.js';
import { findAccountById, setPasswordHash } from '../accounts/queries.js';
import { rememberDevice } from './known-device.js';
import { writeAudit } from '../audit/audit.js';
import { CHANGE_PASSWORD } from '../oidc/policy.js';
import { finishInteraction, loadInteraction, type InteractionDetails } from '../oidc/interaction.js';
import { passwordProblemText, passwordRules } from '../accounts/password-messages.js';


const form = z.object({ password: z.string().max(1000).default(''), repeat: z.string().max(1000).default('') });

export async function showChangePassword(app: AppContext, ctx: Context, details: InteractionDetails, error?: string, status = 200) {
  const account = details.session ? await findAccountById(app.db, details.session.accountId) : undefined;
  render(
    ctx,
    'change-password',
    {
      pageTitle: tr(ctx)('password.title'),
      action: `/interaction/${details.uid}/password`,
      csrfToken: app.csrf.token(ctx),
      login: account?.login ?? '',
      rules: passwordRules(tr(ctx), app.config.password),
      minLength: app.config.password.minLength,
      maxLength: app.config.password.maxLength,
      error,
    },
    status,
  );
}

export function registerChangePasswordRoutes(router: Router, app: AppContext): void {
  router.post('/interaction/:uid/password', app.csrf.verify, async (ctx) => {
    const details = await loadInteraction(app, ctx);
    if (details.prompt.name !== CHANGE_PASSWORD || !details.session) return ctx.redirect(`/interaction/${details.uid}`);
    const t = tr(ctx);
    const account = await findAccountById(app.db, details.session.accountId);
    if (!account) return ctx.redirect(`/interaction/${details.uid}`);
    const input = form.safeParse(ctx.request.body ?? {});
    const { password, repeat } = input.success ? input.data : { password: '', repeat: '' };
    const problem = app.passwords.check(password, {
      login: account.login,
      names: [account.last_name, account.first_name, account.middle_name],
      birthDate: account.birth_date,
    });
    if (problem) return showChangePassword(app, ctx, details, passwordProblemText(t, problem, app.config.password), 400);
    if (password !== repeat) return showChangePassword(app, ctx, details, t('password.mismatch'), 400);
    if (await app.passwords.verify(account.password_hash, password)) {
      return showChangePassword(app, ctx, details, t('password.same'), 400);
    }
    const hash = await app.passwords.hash(password);
    await app.db.transaction(async (trx) => {
      // joins acc-cred's setPassword('forced_change')
      await setPasswordHash(trx, account.id, hash, false);
      await writeAudit(trx, {
        action: 'password.change',
        actor: { type: 'user', id: account.id },
        schoolId: account.school_id,
        target: { type: 'user', id: account.id },
        ip: ctx.ip,
        requestId: ctx.state.requestId as string,
        details: { reason: 'must_change_password' },
      });
    });
    // The new password voided this browser's device cookie; it stays a known device.
    await rememberDevice(app, ctx, account.id);
    await finishInteraction(app, ctx, { [CHANGE_PASSWORD]: { changed: true } }, true);
  });
}
