/**
 * `/verify/<token>`: the link of the confirmation letter. GET shows a button (mail scanners open
 * links), POST confirms — once, and only for the address the letter went to.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { AppContext } from '../server/context.js';
import { render, renderMessage, tr } from '../server/views.js';
import { findUsableToken, useTokens } from '../email/tokens.js';
import { findAccountById } from '../accounts/queries.js';
import { auditOf } from '../audit/bound.js';
import { confirmEmail } from '../accounts/contacts.js';
import { journalHomeUrl } from '../oidc/clients.js';

function invalid(ctx: Context) {
  const t = tr(ctx);
  renderMessage(ctx, { title: t('verify.title'), paragraphs: [t('verify.invalid')] }, 410);
}

export function registerVerifyRoutes(router: Router, app: AppContext): void {
  router.get('/verify/:token', async (ctx) => {
    const link = await findUsableToken(app.db, 'verify', ctx.params.token!);
    if (!link) return invalid(ctx);
    const t = tr(ctx);
    render(ctx, 'verify', { pageTitle: t('verify.title'), action: `/verify/${ctx.params.token}`, csrfToken: app.csrf.token(ctx), email: link.email });
  });

  router.post('/verify/:token', app.csrf.verify, async (ctx) => {
    const t = tr(ctx);
    const token = ctx.params.token!;
    const confirmed = await app.db.transaction(async (trx) => {
      const link = await findUsableToken(trx, 'verify', token, true);
      const account = link ? await findAccountById(trx, link.user_id) : undefined;
      if (!link || !account) return undefined;
      // The address changed since the letter: this link confirms nothing. The link's holder acts.
      if (!(await confirmEmail(trx, account, link.email, auditOf(ctx).as({ type: 'user', id: account.id })))) return undefined;
      await useTokens(trx, account.id, 'verify');
      return link.email;
    });
    if (!confirmed) return invalid(ctx);
    // The link is used up now: the language switch leads home, not to «link invalid».
    renderMessage(ctx, { title: t('verify.done.title'), paragraphs: [t('verify.done.text', { email: confirmed })], backUrl: journalHomeUrl(app.config), backText: t('register.done.login'), switchPath: '/' });
  });
}
