/**
 * The console's sessions live server-side (issue 16, item 3): the `jid_console` cookie carries
 * only a random id, and this table keeps its SHA-256 (a leaked table gives no usable cookie), the
 * account, when it started, when it was last used (idle timeout) and when it ends at the latest
 * (absolute timeout). Ending a session is deleting its row: «Выйти из консоли», endSessions()
 * (password reset, disable, «выйти везде», `user logout`), a role revocation; deleting the account
 * deletes its rows (cascade). The purge deletes rows past `expires_at`.
 */
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('console_sessions', (t) => {
    t.text('id_hash').primary();
    t.uuid('user_id').notNullable().references('users.id').onDelete('cascade');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.timestamp('last_seen_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.timestamp('expires_at', { useTz: true }).notNullable();
  });
  await db.raw('create index console_sessions_user on console_sessions (user_id)');
  await db.raw('create index console_sessions_expires on console_sessions (expires_at)');
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTableIfExists('console_sessions');
}
