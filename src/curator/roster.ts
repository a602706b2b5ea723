/**
 * The school's roster in the console: the classes with their pupils, and a CSV upload that goes
 * through the same parser and import as the CLI's `roster import` (csv-import.ts, all rows or
 * none; a bad row is reported with its line). The upload is the console's only multipart form: its
 * parser lives on this route alone, with the file size capped at the parser's own limit.
 */
import fs from 'node:fs/promises';
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import { koaBody } from 'koa-body';
import type { AppContext } from '../server/context.js';
import { render, renderMessage, tr, localeOf } from '../server/views.js';
import { listClasses, importPeople } from '../roster/queries.js';
import { unlinkAfterRosterSnilsChange } from '../accounts/gosuslugi-links.js';
import { auditOf } from '../audit/bound.js';
import { parseRosterCsv, MAX_BYTES } from '../roster/csv-import.js';
import { findSchoolById } from '../schools/queries.js';
import { isStorableText } from '../db/index.js';
import { privilegedPersonIds } from '../accounts/privileged.js';
import { consoleActor, consoleLoginNeeded } from './console-auth.js';
import { actorSchools, currentSchoolId } from './scope.js';

export function registerConsoleRosterRoutes(router: Router, app: AppContext): void {
  const parse = koaBody({
    multipart: true,
    urlencoded: false,
    json: false,
    text: false,
    formidable: { maxFileSize: MAX_BYTES, maxFiles: 1, maxFields: 5, maxFieldsSize: 8 * 1024, allowEmptyFiles: true, minFileSize: 0 },
    onError: (err, ctx) => ctx.throw(/maxFileSize|too large|exceeded/i.test(err.message) ? 413 : 400, 'bad upload'),
  });
  // The parser stores the file in the temporary folder before the CSRF and login checks run:
  // whatever happens next (refused, redirected, imported, failed), the file is removed.
  const upload: Middleware = async (ctx, next) => {
    try {
      await parse(ctx, next);
    } finally {
      await Promise.all(Object.values(ctx.request.files ?? {}).flat().map((f) => fs.rm(f.filepath, { force: true })));
    }
  };

  router.get('/console/roster', async (ctx) => {
    const actor = await consoleActor(app, ctx);
    if (!actor) return consoleLoginNeeded(app, ctx);
    const schoolId = currentSchoolId(actor, ctx.query.school);
    const [school, schools, classes, staff] = await Promise.all([
      findSchoolById(app.db, schoolId),
      actorSchools(app.db, actor),
      listClasses(app.db, schoolId),
      app.db('people').where({ school_id: schoolId, kind: 'staff' }).whereNull('left_at').count({ n: '*' }).first(),
    ]);
    render(ctx, 'console/roster', { pageTitle: tr(ctx)('console.roster'), csrfToken: app.csrf.token(ctx), school, schools, classes, staff: Number(staff?.n ?? 0) });
  });

  router.post('/console/roster/import', upload, app.csrf.verify, async (ctx) => {
    const actor = await consoleActor(app, ctx);
    if (!actor) return consoleLoginNeeded(app, ctx);
    const t = tr(ctx);
    const fields = (ctx.request.body ?? {}) as Record<string, unknown>;
    const schoolId = currentSchoolId(actor, fields.school);
    const back = { backUrl: `/console/roster?school=${schoolId}`, backText: t('console.roster') };
    const file = [ctx.request.files?.file].flat()[0];
    if (!file) return renderMessage(ctx, { title: t('console.roster'), paragraphs: [t('console.roster.no_file')], ...back }, 400);
    const parsed = parseRosterCsv(await fs.readFile(file.filepath));
    if (!parsed.ok) {
      const en = localeOf(ctx) === 'en';
      return render(ctx, 'console/roster-errors', {
        pageTitle: t('console.roster'), schoolId,
        errors: parsed.errors.map((e) => ({ line: e.line, message: en ? e.messageEn : e.message })),
      }, 400);
    }
    const result = await app.db.transaction(async (trx) => {
      // The entries of curators, admins and support stay as they are: a school's file does not
      // rewrite what Gosuslugi matching reads for an account with power over others (issue 16.1b).
      const { snilsReplaced, kept, ...r } = await importPeople(trx, schoolId, parsed.people, { keepPersonIds: (ids) => privilegedPersonIds(trx, ids) });
      const by = auditOf(ctx); // the curator (consoleActor named them)
      await by.record({
        action: 'roster.import', schoolId,
        details: { file: safeFileName(file.originalFilename), rows: parsed.people.length, ...r, kept: kept.length, snilsReplaced: snilsReplaced.length },
      }, trx);
      // Each entry left alone is a refused change, in the importer's name, as on the user page.
      for (const personId of kept) {
        const holder = (await trx('users').where({ person_id: personId }).first('id')) as { id: string } | undefined;
        await by.record({
          action: 'roster.person.update', outcome: 'denied', schoolId,
          target: holder ? { type: 'user', id: holder.id } : { type: 'person', id: personId },
          details: { reason: 'privileged_account', person: personId },
        }, trx);
      }
      await unlinkAfterRosterSnilsChange(app, trx, snilsReplaced, by);
      return { ...r, kept: kept.length };
    });
    renderMessage(ctx, {
      title: t('console.roster'),
      paragraphs: [
        t('console.roster.done', { rows: String(parsed.people.length), added: String(result.added), updated: String(result.updated), unchanged: String(result.unchanged) }),
        ...(result.kept ? [t('console.roster.kept', { n: String(result.kept) })] : []),
      ],
      ...back,
    });
  });
}

/** The uploaded file's name as the audit keeps it: a name, not a path, and storable text. */
function safeFileName(name: string | null | undefined): string {
  const base = (name ?? '').split(/[\\/]/).pop()!.slice(0, 100);
  return isStorableText(base) ? base : '';
}

