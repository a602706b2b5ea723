/**
 * «Приложения школы»: the third-party apps a curator's school may let see its pupils' data
 * (src/oidc/data-policy.ts) — the platform's apps and those the school's IT registered (which
 * came approved) — with approve / withdraw. Withdrawing ends the pupils' grants of the app
 * (src/clients/approvals.ts). The journal's own apps need no approval and are not listed.
 */
import { auditOf } from '../audit/bound.js';
import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { ClientMetadata } from 'oidc-provider';
import type { AppContext } from '../server/context.js';
import { render, renderMessage, tr } from '../server/views.js';
import { findSchoolById } from '../schools/queries.js';
import { approveClient, withdrawClient } from '../clients/approvals.js';
import { isStorableText } from '../db/index.js';
import type { MessageKey } from '../i18n/index.js';
import { consoleActor, consoleLoginNeeded } from './console-auth.js';
import { appsInScope, type Actor } from './scope.js';

const schoolForm = z.object({ school: z.string().max(64).catch('').default('') });

interface AppRow {
  client_id: string;
  name: string;
  metadata: ClientMetadata | string;
  school_id: string | null;
  approved_at: Date | null;
}

/** The apps of one school of the actor that sign people in, with the school's approval. */
async function schoolApps(app: AppContext, actor: Actor, schoolId: string) {
  const rows = (await appsInScope(app.db, actor, schoolId)
    .leftJoin('school_clients as a', (j) => j.on('a.client_id', 'c.client_id').andOnVal('a.school_id', schoolId))
    .orderBy([{ column: 'c.name' }, { column: 'c.client_id' }])
    .select('c.client_id', 'c.name', 'c.metadata', 'c.school_id', 'a.approved_at')) as AppRow[];
  return rows
    .map((r) => ({ ...r, metadata: (typeof r.metadata === 'string' ? JSON.parse(r.metadata) : r.metadata) as ClientMetadata }))
    // A service client (client credentials only) has no people to see.
    .filter((r) => (r.metadata.grant_types ?? ['authorization_code']).includes('authorization_code'))
    .map((r) => ({
      client_id: r.client_id,
      name: r.name,
      approved_at: r.approved_at,
      own: r.school_id === schoolId,
      scopes: typeof r.metadata.scope === 'string' ? r.metadata.scope : '',
    }));
}

export function registerConsoleAppRoutes(router: Router, app: AppContext): void {
  router.get('/console/apps', async (ctx) => {
    const actor = await consoleActor(app, ctx);
    if (!actor) return consoleLoginNeeded(app, ctx);
    const t = tr(ctx);
    const schools = await Promise.all(actor.schoolIds.map(async (id) => ({ school: (await findSchoolById(app.db, id))!, apps: await schoolApps(app, actor, id) })));
    const done = ctx.query.done === 'approve' || ctx.query.done === 'withdraw' ? ctx.query.done : undefined;
    render(ctx, 'console/apps', {
      pageTitle: t('console.apps'),
      csrfToken: app.csrf.token(ctx),
      schools,
      notice: done ? t(`console.apps.done.${done}` as MessageKey) : undefined,
    });
  });

  for (const action of ['approve', 'withdraw'] as const) {
    router.post(`/console/apps/:clientId/${action}`, app.csrf.verify, async (ctx) => {
      const actor = await consoleActor(app, ctx);
      if (!actor) return consoleLoginNeeded(app, ctx);
      const clientId = ctx.params.clientId ?? '';
      // One school: the only one, or the one the form names (it must be the actor's).
      const schoolId = schoolForm.parse(ctx.request.body ?? {}).school || (actor.schoolIds.length === 1 ? actor.schoolIds[0]! : '');
      const known = clientId.length <= 255 && isStorableText(clientId) && actor.schoolIds.includes(schoolId)
        && (await appsInScope(app.db, actor, schoolId).where('c.client_id', clientId).first('c.client_id'));
      if (!known) return notFound(ctx);
      await app.db.transaction(async (trx) => {
        const act = { schoolId, clientId, by: auditOf(ctx) };
        if (action === 'approve') await approveClient(trx, { ...act, approvedBy: actor.user.id });
        else await withdrawClient(trx, act);
      });
      ctx.status = 303;
      ctx.redirect(`/console/apps?done=${action}`);
    });
  }
}

function notFound(ctx: Context): void {
  const t = tr(ctx);
  renderMessage(ctx, { title: t('console.apps.not_found'), paragraphs: [t('console.apps.not_found.text')], backUrl: '/console/apps', backText: t('console.apps') }, 404);
}
