/**
 * The confirm_email prompt (FAQ «Обновление информации о пользователе»): current password and
 * the address → «Сохранить» sends a confirmation letter; «Позже» goes on to the app. Either way
 * the prompt rests for a day, so it neither loops nor blocks silent logins.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { AppContext } from '../server/context.js';
import { render, tr } from '../server/views.js';
import { findAccountById, type Account } from '../accounts/queries.js';
import { fieldText, readEmail } from '../accounts/fields.js';
import { CONFIRM_EMAIL, EMAIL_LATER_COOKIE } from '../oidc/policy.js';
import { finishInteraction, loadInteraction, type InteractionDetails } from '../oidc/interaction.js';
import { currentPasswordRefusal } from '../accounts/reauth.js';
import { changeEmail } from '../accounts/contacts.js';
import { actAs, auditOf } from '../audit/bound.js';

const form = z.object({
  password: z.string().max(1000).catch('').default(''),
  email: z.string().max(254).catch('').default(''),
  action: z.string().max(10).catch('').default(''),
});

const DAY_MS = 24 * 3600 * 1000;

export async function showConfirmEmail(
  app: AppContext,
  ctx: Context,
  details: InteractionDetails,
  v: { email?: string; error?: string; status?: number } = {},
) {
  const account = details.session ? await findAccountById(app.db, details.session.accountId) : undefined;
  render(
    ctx,
    'confirm-email',
    {
      pageTitle: tr(ctx)('confirm.title'),
      action: `/interaction/${details.uid}/email`,
      csrfToken: app.csrf.token(ctx),
      login: account?.login ?? '',
      email: v.email ?? account?.email ?? '',
      error: v.error,
    },
    v.status ?? 200,
  );
}

function postpone(ctx: Context, account: Account): void {
  ctx.cookies.set(EMAIL_LATER_COOKIE, `${account.id}.${Date.now() + DAY_MS}`, {
    signed: true, httpOnly: true, sameSite: 'lax', path: '/', maxAge: DAY_MS, overwrite: true,
  });
}

export function registerConfirmEmailRoutes(router: Router, app: AppContext): void {
  router.post('/interaction/:uid/email', app.csrf.verify, async (ctx) => {
    const details = await loadInteraction(app, ctx);
    if (details.prompt.name !== CONFIRM_EMAIL || !details.session) return ctx.redirect(`/interaction/${details.uid}`);
    const t = tr(ctx);
    const account = await findAccountById(app.db, details.session.accountId);
    if (!account) return ctx.redirect(`/interaction/${details.uid}`);
    const input = form.parse(ctx.request.body ?? {});
    if (input.action === 'later') {
      postpone(ctx, account);
      await actAs(ctx, { type: 'user', id: account.id }).record({ action: 'email.confirm_postponed', schoolId: account.school_id, target: { type: 'user', id: account.id } });
      return finishInteraction(app, ctx, { [CONFIRM_EMAIL]: { postponed: true } }, true);
    }
    const read = readEmail(input.email, true);
    if (!read.ok) return showConfirmEmail(app, ctx, details, { email: input.email.trim(), error: fieldText(t, read.problem), status: 400 });
    const email = read.value!;
    // The current password proves it is the owner at the keyboard.
    const refused = await currentPasswordRefusal(app, ctx, account, input.password);
    if (refused) return showConfirmEmail(app, ctx, details, { email, ...refused });
    // The password proved the holder: the library's email_change row (the new address confirms
    // itself, a confirmed old one is told), recorded as this prompt's event.
    const by = auditOf(ctx).as({ type: 'user', id: account.id });
    await app.db.transaction((trx) => changeEmail(app, trx, account, { email, enteredBy: null, audit: 'email.confirm_sent' }, by));
    postpone(ctx, account);
    await finishInteraction(app, ctx, { [CONFIRM_EMAIL]: { sent: true } }, true);
  });
}
