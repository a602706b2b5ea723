/** The browser or device each app sign-in (grant) was made from, for «где выполнен вход». */
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('grant_devices', (t) => {
    t.text('grant_id').primary();
    t.uuid('account_id').notNullable().references('users.id').onDelete('cascade');
    t.text('device').notNullable(); // «Chrome, Android»: derived from the User-Agent, not the string itself
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTableIfExists('grant_devices');
}
