/**
 * Dynamic client registration (RFC 7591/7592): a registered client belongs to the school whose
 * initial access token registered it; `registered_by` tells CLI clients from DCR ones (only the
 * latter can be changed through the provider).
 */
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable('clients', (t) => {
    t.uuid('school_id').nullable().references('schools.id').onDelete('restrict');
    t.text('registered_by').notNullable().defaultTo('cli');
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
  });
  await db.raw(`alter table clients add constraint clients_registered_by check (registered_by in ('cli', 'dcr'))`);
  await db.raw('create index clients_school on clients (school_id) where school_id is not null');
}

export async function down(db: Knex): Promise<void> {
  await db.raw('drop index if exists clients_school');
  await db.schema.alterTable('clients', (t) => {
    t.dropChecks(['clients_registered_by']);
    t.dropColumn('updated_at');
    t.dropColumn('registered_by');
    t.dropColumn('school_id');
  });
}
