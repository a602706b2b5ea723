/**
 * The mail outbox: every letter is written here in the transaction of the change that causes it,
 * then sent by a worker with retries. Nothing is lost when SMTP is down.
 */
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('mail_outbox', (t) => {
    t.bigIncrements('id');
    t.text('to_address').notNullable();
    t.text('from_address').notNullable();
    t.text('subject').notNullable();
    t.text('text_body').notNullable();
    t.text('html_body').notNullable();
    t.text('template').notNullable(); // which letter (for operators; bodies may hold secret links)
    t.text('status').notNullable().defaultTo('pending'); // pending | sent | failed
    t.integer('attempts').notNullable().defaultTo(0);
    // Due time; a node that claims a letter pushes it ahead by the lease, so a crash only delays it.
    t.timestamp('next_attempt_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.text('last_error').nullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.timestamp('sent_at', { useTz: true }).nullable();
  });
  await db.raw(`alter table mail_outbox add constraint mail_outbox_status_check check (status in ('pending','sent','failed'))`);
  await db.raw(`create index mail_outbox_due on mail_outbox (next_attempt_at) where status = 'pending'`);
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTableIfExists('mail_outbox');
}
