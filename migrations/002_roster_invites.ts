/**
 * The school roster (`people`), invite codes, guardianships (parent account ↔ child on the
 * roster), consents to the processing of personal data, and the link account → roster person.
 */
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('people', (t) => {
    t.uuid('id').primary().defaultTo(db.raw('gen_random_uuid()'));
    t.uuid('school_id').notNullable().references('schools.id').onDelete('restrict');
    t.text('kind').notNullable(); // student | staff
    t.text('staff_role').nullable(); // teacher | administration (staff only)
    t.text('last_name').notNullable();
    t.text('first_name').notNullable();
    t.text('middle_name').nullable();
    t.date('birth_date').nullable();
    t.text('class_name').nullable(); // "6А" (students only)
    t.text('position').nullable(); // «учитель математики» (staff, free text)
    t.text('snils').nullable(); // 11 digits, checksum verified; Gosuslugi matching uses it
    t.text('phone').nullable(); // +7XXXXXXXXXX
    t.text('external_id').nullable(); // the school's own id from its import file
    t.timestamp('left_at', { useTz: true }).nullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
  });
  await db.raw(`alter table people add constraint people_kind_check check (
    (kind = 'student' and staff_role is null and class_name is not null)
    or (kind = 'staff' and staff_role in ('teacher','administration') and class_name is null))`);
  await db.raw('create unique index people_school_external on people (school_id, external_id) where external_id is not null');
  await db.raw('create index people_school_class on people (school_id, kind, class_name)');
  await db.raw('create index people_school_name on people (school_id, lower(last_name), lower(first_name))');

  await db.schema.alterTable('users', (t) => {
    // The roster entry a student's or staff member's account belongs to (one account per person).
    t.uuid('person_id').nullable().references('people.id').onDelete('restrict');
  });
  await db.raw('create unique index users_person_unique on users (person_id) where person_id is not null');

  await db.schema.createTable('invites', (t) => {
    t.uuid('id').primary().defaultTo(db.raw('gen_random_uuid()'));
    t.uuid('school_id').notNullable().references('schools.id').onDelete('restrict');
    t.text('role').notNullable(); // student | parent | teacher | administration
    // HMAC-SHA256(pepper, normalised code), hex: looked up by it, the code itself is never stored.
    t.text('code_hmac').notNullable().unique();
    t.uuid('person_id').notNullable().references('people.id').onDelete('restrict'); // the child for st/pt, the staff member for tr/ar
    t.text('class_name').nullable(); // the class when issued (printed on the sheet)
    t.uuid('batch_id').notNullable(); // one issuing run: printed together
    t.text('issued_by').notNullable(); // "cli", or the curator's user id
    t.timestamp('issued_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.timestamp('expires_at', { useTz: true }).nullable();
    t.timestamp('revoked_at', { useTz: true }).nullable();
    t.text('revoked_by').nullable();
    t.timestamp('redeemed_at', { useTz: true }).nullable();
    t.uuid('redeemed_by').nullable().references('users.id').onDelete('set null');
  });
  await db.raw(`alter table invites add constraint invites_role_check
    check (role in ('student','parent','teacher','administration'))`);
  await db.raw('create index invites_person on invites (person_id, role)');
  await db.raw('create index invites_batch on invites (batch_id)');

  await db.schema.createTable('guardianships', (t) => {
    t.uuid('user_id').notNullable().references('users.id').onDelete('cascade');
    t.uuid('person_id').notNullable().references('people.id').onDelete('restrict');
    t.uuid('invite_id').nullable().references('invites.id').onDelete('set null');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.primary(['user_id', 'person_id']);
  });
  await db.raw('create index guardianships_person on guardianships (person_id)');

  // Consent to the processing of personal data (152-ФЗ): who gave it, for whom, to which version.
  await db.schema.createTable('consents', (t) => {
    t.bigIncrements('id');
    t.uuid('user_id').notNullable().references('users.id').onDelete('cascade'); // who consented
    t.uuid('person_id').nullable().references('people.id').onDelete('restrict'); // the child it covers; null: the user
    t.text('policy_version').notNullable();
    t.timestamp('given_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.text('ip').nullable();
    t.timestamp('withdrawn_at', { useTz: true }).nullable();
  });
  await db.raw('create index consents_user on consents (user_id)');
}

export async function down(db: Knex): Promise<void> {
  for (const t of ['consents', 'guardianships', 'invites']) await db.schema.dropTableIfExists(t);
  await db.raw('drop index if exists users_person_unique');
  await db.schema.alterTable('users', (t) => t.dropColumn('person_id'));
  await db.schema.dropTableIfExists('people');
}
