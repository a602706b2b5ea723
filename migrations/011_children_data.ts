/**
 * Children's data (152-ФЗ): which third-party apps a school lets see its pupils' data
 * (`school_clients`; the journal's own apps need no approval), and guardianships a curator has
 * restricted (`restricted_at`: e.g. a court order limits a parent's access; the link stays, the
 * child is no longer released to that parent's apps). `approved_by` is "registration" for a
 * client its school registered, else the approving curator's user id (kept as text like
 * `invites.issued_by`, so an erased account leaves no dangling key).
 */
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('school_clients', (t) => {
    t.uuid('school_id').notNullable().references('schools.id').onDelete('cascade');
    t.text('client_id').notNullable().references('clients.client_id').onDelete('cascade');
    t.text('approved_by').notNullable();
    t.timestamp('approved_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.primary(['school_id', 'client_id']);
  });
  await db.raw('create index school_clients_client on school_clients (client_id)');
  await db.schema.alterTable('guardianships', (t) => {
    t.timestamp('restricted_at', { useTz: true }).nullable();
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable('guardianships', (t) => t.dropColumn('restricted_at'));
  await db.schema.dropTableIfExists('school_clients');
}
