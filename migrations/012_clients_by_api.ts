/**
 * Clients registered through the admin API are told apart from the CLI's (`registered_by = 'api'`):
 * the admin scope stays with operator-made clients, and the audit and listings say who made each.
 */
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.raw('alter table clients drop constraint clients_registered_by');
  await db.raw(`alter table clients add constraint clients_registered_by check (registered_by in ('cli', 'dcr', 'api'))`);
}

export async function down(db: Knex): Promise<void> {
  await db('clients').where({ registered_by: 'api' }).update({ registered_by: 'cli' });
  await db.raw('alter table clients drop constraint clients_registered_by');
  await db.raw(`alter table clients add constraint clients_registered_by check (registered_by in ('cli', 'dcr'))`);
}
