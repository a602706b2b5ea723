/** Parent accounts ↔ children on the roster (table `guardianships`). */
import type { Knex } from 'knex';
import type { AppContext } from '../server/context.js';
import type { AuditWriter } from '../audit/bound.js';
import type { Queryable } from '../db/index.js';
import { findAccountById, type Account } from './queries.js';
import { applyEffects } from './effects.js';

export type GuardianshipAction = 'remove' | 'restrict' | 'unrestrict';
const CAUSE = { remove: 'guardian_unlink', restrict: 'guardian_restrict', unrestrict: 'guardian_unrestrict' } as const;

/**
 * A curator's change of one link (the caller has locked it and checked the scope), in the caller's
 * transaction, with its row of effects.ts; recorded in the child's school, about the child.
 */
export async function changeGuardianship(
  app: AppContext,
  trx: Knex.Transaction,
  by: AuditWriter,
  l: { guardian: Account; personId: string; schoolId: string; action: GuardianshipAction },
): Promise<void> {
  const row = trx('guardianships').where({ user_id: l.guardian.id, person_id: l.personId });
  if (l.action === 'remove') await row.del();
  else await row.update({ restricted_at: l.action === 'restrict' ? trx.fn.now() : null });
  await applyEffects(app, trx, CAUSE[l.action], l.guardian, by, { schoolId: l.schoolId, target: { type: 'person', id: l.personId }, details: { guardian: l.guardian.id } });
}

export async function addGuardianships(db: Queryable, userId: string, links: { personId: string; inviteId: string | null }[]): Promise<void> {
  if (!links.length) return;
  await db('guardianships')
    .insert(links.map((l) => ({ user_id: userId, person_id: l.personId, invite_id: l.inviteId })))
    .onConflict(['user_id', 'person_id'])
    .ignore();
}

/** The accounts linked to a child as its parents, oldest link first; `restricted`: see the child no more. */
export async function guardiansOf(db: Queryable, personId: string): Promise<(Account & { restricted: boolean })[]> {
  const rows = (await db('guardianships').select('user_id', 'restricted_at').where({ person_id: personId }).orderBy('created_at')) as { user_id: string; restricted_at: Date | null }[];
  const accounts = await Promise.all(rows.map(async (r) => {
    const a = await findAccountById(db, r.user_id);
    return a && { ...a, restricted: Boolean(r.restricted_at) };
  }));
  return accounts.filter((a): a is Account & { restricted: boolean } => Boolean(a));
}

export interface Child {
  /** The child's entry on the school roster. */
  id: string;
  /** The child's own account, when the child has registered. */
  user_id: string | null;
  name: string;
  class_name: string | null;
  school_id: string;
}

/**
 * The children of an account, as relying parties see them (the `children` claim). A guardianship
 * a curator restricted (e.g. a court order) is left out everywhere the parent would see the child.
 */
export async function childrenOf(db: Queryable, userId: string): Promise<Child[]> {
  const rows = (await db('guardianships as g')
    .join('people as p', 'p.id', 'g.person_id')
    .leftJoin('users as u', 'u.person_id', 'p.id')
    .select('p.id', 'u.id as user_id', 'p.last_name', 'p.first_name', 'p.middle_name', 'p.class_name', 'p.school_id')
    .where('g.user_id', userId)
    .whereNull('g.restricted_at')
    .whereNull('p.left_at')
    .orderBy(['p.last_name', 'p.first_name'])) as { id: string; user_id: string | null; last_name: string; first_name: string; middle_name: string | null; class_name: string | null; school_id: string }[];
  return rows.map((r) => ({
    id: r.id,
    user_id: r.user_id,
    name: [r.last_name, r.first_name, r.middle_name].filter(Boolean).join(' '),
    class_name: r.class_name,
    school_id: r.school_id,
  }));
}
