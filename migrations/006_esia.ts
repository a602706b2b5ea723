/**
 * Gosuslugi (ESIA): the link account → ESIA person (`federated_identities`, nothing of ESIA's
 * person data but its oid), the server-side state of each ESIA login (`esia_flows`), where a
 * SNILS on an account came from (the school vouches for it, or the person typed it), and the
 * indexes the matching looks accounts up by.
 */
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('federated_identities', (t) => {
    t.bigIncrements('id');
    t.text('provider').notNullable(); // esia
    t.text('subject').notNullable(); // ESIA oid, as text (ESIA sends a number)
    t.uuid('user_id').notNullable().references('users.id').onDelete('cascade');
    t.text('linked_via').notNullable(); // snils_school | email | phone | snils_self | chooser …
    t.timestamp('linked_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.timestamp('last_login_at', { useTz: true }).nullable();
  });
  // One ESIA person per account; one ESIA person may own several accounts (two schools, parent + teacher).
  await db.raw('create unique index federated_identities_user on federated_identities (provider, user_id)');
  await db.raw('create index federated_identities_subject on federated_identities (provider, subject)');

  await db.schema.createTable('esia_flows', (t) => {
    t.uuid('state').primary(); // the `state` sent to ESIA
    t.text('interaction_uid').notNullable();
    t.text('code_verifier').nullable(); // PKCE
    t.text('ip').nullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.timestamp('expires_at', { useTz: true }).notNullable(); // with the interaction
    t.timestamp('returned_at', { useTz: true }).nullable(); // the callback used the state (once)
    t.text('subject').nullable(); // the ESIA oid, once the callback verified it
    t.jsonb('candidates').nullable(); // [{ userId, strength, via }]: the only accounts this flow may log in
    t.timestamp('finished_at', { useTz: true }).nullable();
  });
  await db.raw('create index esia_flows_interaction on esia_flows (interaction_uid)');
  await db.raw('create index esia_flows_expires on esia_flows (expires_at)');

  await db.schema.alterTable('users', (t) => {
    t.text('snils_source').nullable(); // school | self
  });
  await db.raw(`update users set snils_source = 'school' where snils is not null`); // only the CLI could set it
  await db.raw(`alter table users add constraint users_snils_source_check
    check ((snils is null and snils_source is null) or (snils is not null and snils_source in ('school','self')))`);
  await db.raw('create index users_snils on users (snils) where snils is not null');
  await db.raw('create index users_phone on users (phone) where phone is not null');
  await db.raw('create index people_snils on people (snils) where snils is not null');
  await db.raw('create index people_phone on people (phone) where phone is not null');
}

export async function down(db: Knex): Promise<void> {
  for (const i of ['users_snils', 'users_phone', 'people_snils', 'people_phone']) await db.raw(`drop index if exists ${i}`);
  await db.raw('alter table users drop constraint if exists users_snils_source_check');
  await db.schema.alterTable('users', (t) => t.dropColumn('snils_source'));
  await db.schema.dropTableIfExists('esia_flows');
  await db.schema.dropTableIfExists('federated_identities');
}
