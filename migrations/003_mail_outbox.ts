/** The mail outbox (written by the email helper). */
import type { Knex } from 'knex';

export async function up(_db: Knex): Promise<void> {}

export async function down(_db: Knex): Promise<void> {}
