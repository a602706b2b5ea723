/**
 * The change_password prompt: a person whose password someone else set (the CLI, a curator)
 * chooses their own before going on to the app. The journal's password rule applies.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { AppContext } from '../server/context.js';
import { render, tr } from '../server/views.js';
import { findAccountById } from '../accounts/queries.js';
import { passwordProblem, setPassword } from '../accounts/password-change.js';
import { actAs } from '../audit/bound.js';
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
    const problem = passwordProblem(app, account, password);
    if (problem) return showChangePassword(app, ctx, details, passwordProblemText(t, problem, app.config.password), 400);
    if (password !== repeat) return showChangePassword(app, ctx, details, t('password.mismatch'), 400);
    // The login in progress goes on in this browser (it stays a known device); any other ends.
    const done = await setPassword(app, account, password, 'forced_change', actAs(ctx, { type: 'user', id: account.id }), {
      ctx, reason: 'must_change_password', details: { reason: 'must_change_password' },
    });
    if (!done.ok) {
      const error = done.reason === 'policy' ? passwordProblemText(t, done.problem, app.config.password) : t('password.same');
      return showChangePassword(app, ctx, details, error, 400);
    }
    await finishInteraction(app, ctx, { [CHANGE_PASSWORD]: { changed: true } }, true);
  });
}
