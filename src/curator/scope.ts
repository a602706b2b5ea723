/**
 * Who may see whom in the curator console — the one place every console query goes through.
 * A curator sees the users of their school (platform accounts never); anyone else sees no
 * personal data at all. Routes ask `usersInScope` / `userInScope`, never `users` directly, so a
 * page cannot forget the filter.
 */
import type { Knex } from 'knex';
import type { Queryable } from '../db/index.js';
import { isUuid } from '../roster/queries.js';
import type { Account } from '../accounts/queries.js';

export interface Actor {
  user: Account;
  /** The schools whose users this actor may see and act on. */
  schoolIds: string[];
}

export const CURATOR = 'curator';

/** The console's actor for an account, or undefined when it may not use the console. */
export function actorOf(user: Account): Actor | undefined {
  if (user.disabled_at || !user.roles.includes(CURATOR) || !user.school_id) return undefined;
  return { user, schoolIds: [user.school_id] };
}

/** `users` as the actor may see them. */
export function usersInScope(db: Queryable, actor: Actor): Knex.QueryBuilder {
  return db('users as u').whereIn('u.school_id', actor.schoolIds).whereNot('u.kind', 'platform');
}

/** One user in scope, or undefined (the route answers 404: another school's user does not exist here). */
export async function userInScope(db: Queryable, actor: Actor, id: string): Promise<{ id: string; school_id: string } | undefined> {
  if (!isUuid(id)) return undefined;
  return usersInScope(db, actor).where('u.id', id).first('u.id', 'u.school_id');
}
