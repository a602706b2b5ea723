/**
 * A curator may hold several schools (issue 6): their own school while they hold the `curator`
 * role, and every school a platform admin granted them here. Deleting the account removes its
 * grants (cascade); a school with curators cannot vanish under them (restrict). `granted_by` is
 * the admin who granted it, kept as a pointer only (set null if that account is deleted).
 */
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('curator_schools', (t) => {
    t.uuid('user_id').notNullable().references('users.id').onDelete('cascade');
    t.uuid('school_id').notNullable().references('schools.id').onDelete('restrict');
    t.uuid('granted_by').nullable().references('users.id').onDelete('set null');
    t.timestamp('granted_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.primary(['user_id', 'school_id']);
  });
  await db.raw('create index curator_schools_school on curator_schools (school_id)');
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTableIfExists('curator_schools');
}
