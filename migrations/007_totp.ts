/**
 * The second factor (TOTP, RFC 6238) that curators and platform admins must use, and anyone may
 * turn on: the secret sealed under the key-encryption key, the last time step used (a code works
 * once), and the pending second step of a login (`mfa_challenges`: password checked, code not yet).
 */
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('user_totp', (t) => {
    t.uuid('user_id').primary().references('users.id').onDelete('cascade');
    t.text('secret_enc').notNullable();
    t.timestamp('confirmed_at', { useTz: true }).nullable(); // null: enrolment started, not confirmed
    t.bigInteger('last_step').nullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
  });
  await db.schema.createTable('mfa_challenges', (t) => {
    t.text('interaction_uid').primary();
    t.uuid('user_id').notNullable().references('users.id').onDelete('cascade');
    t.boolean('remember').notNullable().defaultTo(false);
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
  });
  await db.raw('create index mfa_challenges_expires on mfa_challenges (expires_at)');
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTableIfExists('mfa_challenges');
  await db.schema.dropTableIfExists('user_totp');
}
