/**
 * Issue 16.1: a Gosuslugi link says where the data that made it came from and what its holder
 * proved, and an account's SNILS and email say which curator entered them.
 *
 * - `federated_identities.origin`: roster | curator | school (CLI, or before this column) |
 *   email (an address its holder confirmed) | holder (the holder typed it and gave the password);
 *   `origin_user_id`: the curator whose entry made the link (audit and the letter name them).
 * - `federated_identities.proof`: none (linked by data alone) | password | password_otp. An
 *   account with a privileged role or a second factor of its own is logged in through
 *   Gosuslugi, and reaches the console, only over a `password_otp` link.
 * - `users.snils_entered_by`, `users.email_entered_by`: the curator who typed the value into the
 *   console; cleared when the holder sets their own.
 * - `esia_flows.proven_user_id`: the account whose password this login proved (the second-factor
 *   step that follows checks it).
 * Links that exist keep working for accounts without a privileged role; they are `none`.
 */
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable('federated_identities', (t) => {
    t.text('origin').nullable();
    t.uuid('origin_user_id').nullable().references('users.id').onDelete('set null');
    t.text('proof').notNullable().defaultTo('none');
  });
  await db.raw(`alter table federated_identities add constraint federated_identities_proof_check check (proof in ('none','password','password_otp'))`);
  await db.raw(`alter table federated_identities add constraint federated_identities_origin_check
    check (origin is null or origin in ('roster','curator','school','email','holder'))`);
  await db.schema.alterTable('users', (t) => {
    t.uuid('snils_entered_by').nullable().references('users.id').onDelete('set null');
    t.uuid('email_entered_by').nullable().references('users.id').onDelete('set null');
  });
  await db.schema.alterTable('esia_flows', (t) => {
    t.uuid('proven_user_id').nullable();
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable('esia_flows', (t) => t.dropColumn('proven_user_id'));
  await db.schema.alterTable('users', (t) => {
    t.dropColumn('snils_entered_by');
    t.dropColumn('email_entered_by');
  });
  await db.raw('alter table federated_identities drop constraint if exists federated_identities_origin_check');
  await db.raw('alter table federated_identities drop constraint if exists federated_identities_proof_check');
  await db.schema.alterTable('federated_identities', (t) => {
    t.dropColumn('origin');
    t.dropColumn('origin_user_id');
    t.dropColumn('proof');
  });
}
