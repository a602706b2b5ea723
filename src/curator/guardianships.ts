/**
 * Guardianships in the console (children's data, 152-ФЗ): the user page lists a pupil's guardians
 * and a parent's children (src/curator/queries.ts, view console/user-guardianships); here a
 * curator removes a link or restricts it — e.g. a court order limits a parent's access: the link
 * stays, but the child is no longer in that parent's `children` claim or account page. The
 * parent's app sessions go on (their next token or userinfo call no longer lists the child).
 * A guardianship whose pupil is not in the curator's schools does not exist here (404), whatever
 * the parent's school.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { AppContext } from '../server/context.js';
import { renderMessage, tr } from '../server/views.js';
import { auditOf } from '../audit/bound.js';
import { changeGuardianship } from '../accounts/guardianships.js';
import { isUuid } from '../roster/queries.js';
import { consoleActor, consoleLoginNeeded } from './console-auth.js';
import { guardianshipsInScope } from './scope.js';
import { findAccountById } from '../accounts/queries.js';
import { holdsPrivilegedRole } from '../accounts/privileged.js';

const ACTIONS = ['remove', 'restrict', 'unrestrict'] as const;
/** Which page the form was on: the guardian's or the pupil's. */
const backForm = z.object({ back: z.enum(['guardian', 'child']).catch('guardian').default('guardian') });

export function registerConsoleGuardianshipRoutes(router: Router, app: AppContext): void {
  for (const action of ACTIONS) {
    router.post(`/console/users/:id/guardianships/:personId/${action}`, app.csrf.verify, async (ctx) => {
      const actor = await consoleActor(app, ctx);
      if (!actor) return consoleLoginNeeded(app, ctx);
      const guardianId = ctx.params.id ?? '';
      const personId = ctx.params.personId ?? '';
      const back = backForm.parse(ctx.request.body ?? {}).back;
      const done = await app.db.transaction(async (trx) => {
        if (!isUuid(guardianId) || !isUuid(personId)) return undefined;
        const link = (await guardianshipsInScope(trx, actor)
          .leftJoin('users as cu', 'cu.person_id', 'p.id')
          .where({ 'g.user_id': guardianId, 'g.person_id': personId })
          .forUpdate('g')
          .first('g.restricted_at', 'p.school_id', 'cu.id as child_user_id')) as { restricted_at: Date | null; school_id: string; child_user_id: string | null } | undefined;
        if (!link) return undefined;
        // A guardian who is a curator (of any school), admin or support is managed by the platform
        // admin, not from a school's console (issue 16.1b): refused, audited in the curator's name.
        const guardian = await findAccountById(trx, guardianId);
        if (guardian && (await holdsPrivilegedRole(trx, guardian))) {
          await auditOf(ctx).record({
            action: `guardianship.${action}`, outcome: 'denied', schoolId: link.school_id,
            target: { type: 'user', id: guardianId }, details: { reason: 'privileged_account', person: personId },
          }, trx);
          return 'privileged' as const;
        }
        // Marking twice keeps the first time (and writes no second audit entry).
        if (action !== 'remove' && (action === 'restrict') === Boolean(link.restricted_at)) return link;
        if (!guardian) return undefined;
        await changeGuardianship(app, trx, auditOf(ctx), { guardian, personId, schoolId: link.school_id, action });
        return link;
      });
      if (!done) return notFound(ctx);
      if (done === 'privileged') {
        const t = tr(ctx);
        return renderMessage(ctx, { title: t('console.user'), paragraphs: [t('console.privileged')], backUrl: `/console/users/${guardianId}`, backText: t('console.back') }, 403);
      }
      const page = back === 'child' && done.child_user_id ? done.child_user_id : guardianId;
      ctx.status = 303;
      ctx.redirect(`/console/users/${page}?done=guardian_${action}`);
    });
  }
}

function notFound(ctx: Context): void {
  const t = tr(ctx);
  renderMessage(ctx, { title: t('console.not_found'), paragraphs: [t('console.not_found.text')], backUrl: '/console', backText: t('console.title') }, 404);
}
