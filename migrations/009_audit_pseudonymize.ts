/**
 * Erasure (152-ФЗ) versus an append-only audit log: the log stays append-only for the
 * application, with one narrow exception — inside a transaction that set
 * `journal.audit_erasure = 'on'` (account deletion, and the retention job), an update may change
 * `details` and `ip` and nothing else: an erased person's login leaves old entries, and old
 * entries' addresses become pseudonyms, while the entries themselves (who did what, when, to
 * which id) remain.
 */
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.raw(`create or replace function audit_log_append_only() returns trigger language plpgsql as $$
    begin
      if tg_op = 'UPDATE' and coalesce(current_setting('journal.audit_erasure', true), '') = 'on'
         and new.id = old.id and new.at = old.at and new.action = old.action and new.outcome = old.outcome
         and new.actor_type = old.actor_type and new.actor_id is not distinct from old.actor_id
         and new.school_id is not distinct from old.school_id and new.target_type is not distinct from old.target_type
         and new.target_id is not distinct from old.target_id and new.client_id is not distinct from old.client_id
         and new.request_id is not distinct from old.request_id then
        return new;
      end if;
      raise exception 'audit_log is append-only';
    end $$`);
}

export async function down(db: Knex): Promise<void> {
  await db.raw(`create or replace function audit_log_append_only() returns trigger language plpgsql as $$
    begin raise exception 'audit_log is append-only'; end $$`);
}
