/**
 * Single-use links sent by mail (confirm an address, set a new password), stored as hashes, and
 * recovery requests: the request only records the address; a worker looks it up later.
 */
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('email_tokens', (t) => {
    t.uuid('id').primary().defaultTo(db.raw('gen_random_uuid()'));
    t.uuid('user_id').notNullable().references('users.id').onDelete('cascade');
    t.text('purpose').notNullable(); // verify | recover
    t.text('token_hash').notNullable().unique(); // SHA-256 of the random token in the link
    t.text('email').notNullable(); // the address the link was sent to
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('used_at', { useTz: true }).nullable(); // used, or superseded by a newer link
  });
  await db.raw(`alter table email_tokens add constraint email_tokens_purpose_check check (purpose in ('verify','recover'))`);
  await db.raw('create index email_tokens_user on email_tokens (user_id, purpose) where used_at is null');

  await db.schema.createTable('recovery_requests', (t) => {
    t.bigIncrements('id');
    t.text('email').notNullable(); // lower-cased as typed; not looked up by the request
    t.text('locale').notNullable();
    t.text('ip').nullable();
    t.timestamp('requested_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.timestamp('processed_at', { useTz: true }).nullable();
  });
  await db.raw('create index recovery_requests_pending on recovery_requests (id) where processed_at is null');
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTableIfExists('recovery_requests');
  await db.schema.dropTableIfExists('email_tokens');
}
