/** Schools, accounts, clients, the oidc-provider models, signing keys, throttle, audit, back-channel queue. */
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('schools', (t) => {
    t.uuid('id').primary().defaultTo(db.raw('gen_random_uuid()'));
    t.text('number').notNullable(); // "1399" — what people call the school
    t.text('name').notNullable();
    t.text('region').notNullable();
    t.text('slug').notNullable().unique(); // used in addresses: /s/<slug>, <slug>.<domain>
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.unique(['region', 'number']);
  });

  await db.schema.createTable('users', (t) => {
    t.uuid('id').primary().defaultTo(db.raw('gen_random_uuid()'));
    t.uuid('school_id').nullable().references('schools.id').onDelete('restrict'); // null: platform staff
    t.text('login').notNullable();
    t.text('password_hash').notNullable();
    t.text('kind').notNullable(); // student | parent | staff | platform
    t.specificType('roles', 'text[]').notNullable().defaultTo('{}');
    t.text('last_name').nullable();
    t.text('first_name').nullable();
    t.text('middle_name').nullable();
    t.date('birth_date').nullable();
    t.text('email').nullable();
    t.timestamp('email_verified_at', { useTz: true }).nullable();
    t.text('phone').nullable();
    t.text('snils').nullable();
    t.boolean('must_change_password').notNullable().defaultTo(false);
    t.timestamp('disabled_at', { useTz: true }).nullable();
    t.timestamp('password_changed_at', { useTz: true }).nullable();
    t.timestamp('last_login_at', { useTz: true }).nullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
  });
  await db.raw(`alter table users add constraint users_kind_check
    check (kind in ('student','parent','staff','platform'))`);
  // Logins are unique per school, case-insensitively (platform staff share the '' school).
  await db.raw(`create unique index users_school_login_unique on users (coalesce(school_id::text, ''), lower(login))`);
  await db.raw(`create index users_email_lower on users (lower(email)) where email is not null`);

  await db.schema.createTable('clients', (t) => {
    t.text('client_id').primary();
    t.text('name').notNullable();
    t.jsonb('metadata').notNullable(); // oidc-provider client metadata, without the secret
    t.text('secret_enc').nullable(); // AES-GCM under the key-encryption key
    t.boolean('first_party').notNullable().defaultTo(false);
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
  });

  // oidc-provider's models: the whole payload as jsonb, lookup keys denormalised.
  await db.schema.createTable('oidc_models', (t) => {
    t.string('model', 64).notNullable();
    t.string('id', 255).notNullable();
    t.jsonb('payload').notNullable();
    t.string('grant_id', 255).nullable();
    t.string('user_code', 255).nullable();
    t.string('uid', 255).nullable(); // not unique: concurrent /auth may duplicate (oidc-provider #1145)
    t.string('account_id', 255).nullable();
    t.timestamp('expires_at', { useTz: true }).nullable();
    t.timestamp('consumed_at', { useTz: true }).nullable();
    t.primary(['model', 'id']);
  });
  await db.raw('create index oidc_models_grant on oidc_models (model, grant_id) where grant_id is not null');
  await db.raw('create index oidc_models_uid on oidc_models (model, uid) where uid is not null');
  await db.raw('create index oidc_models_user_code on oidc_models (model, user_code) where user_code is not null');
  await db.raw('create index oidc_models_account on oidc_models (account_id) where account_id is not null');
  await db.raw('create index oidc_models_expires on oidc_models (expires_at) where expires_at is not null');

  // Signing keys. Which key signs is derived from time: the newest key per algorithm whose
  // activate_at has passed; so every node switches at the same moment without coordination.
  await db.schema.createTable('signing_keys', (t) => {
    t.text('kid').primary();
    t.text('alg').notNullable(); // ES256 | RS256
    t.jsonb('public_jwk').notNullable();
    t.text('private_jwk_enc').notNullable(); // AES-GCM under the key-encryption key
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.timestamp('activate_at', { useTz: true }).notNullable(); // published from creation, signs from here
    t.timestamp('removed_at', { useTz: true }).nullable(); // dropped from JWKS
  });

  // Failure counters shared by every node (login, later invites, recovery, ESIA).
  await db.schema.createTable('throttle', (t) => {
    t.text('key').primary();
    t.integer('count').notNullable();
    t.timestamp('last_at', { useTz: true }).notNullable();
    t.timestamp('blocked_until', { useTz: true }).nullable();
  });

  await db.schema.createTable('audit_log', (t) => {
    t.bigIncrements('id');
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.text('action').notNullable(); // login.success, login.failure, login.locked, keys.rotate …
    t.text('outcome').notNullable().defaultTo('success');
    t.text('actor_type').notNullable(); // user | system | cli | client | anonymous
    t.text('actor_id').nullable();
    t.uuid('school_id').nullable();
    t.text('target_type').nullable();
    t.text('target_id').nullable();
    t.text('client_id').nullable();
    t.text('ip').nullable();
    t.text('request_id').nullable();
    t.jsonb('details').notNullable().defaultTo('{}');
  });
  await db.raw('create index audit_log_school_at on audit_log (school_id, at desc)');
  await db.raw('create index audit_log_target on audit_log (target_type, target_id)');
  // Append-only: history cannot be rewritten through the application's connection.
  await db.raw(`create function audit_log_append_only() returns trigger language plpgsql as $$
    begin raise exception 'audit_log is append-only'; end $$`);
  await db.raw(`create trigger audit_log_no_change before update or delete on audit_log
    for each row execute function audit_log_append_only()`);
  await db.raw(`create trigger audit_log_no_truncate before truncate on audit_log
    for each statement execute function audit_log_append_only()`);

  // Back-channel logout deliveries, retried with backoff (oidc-provider sends only inline, once).
  await db.schema.createTable('backchannel_logouts', (t) => {
    t.bigIncrements('id');
    t.text('client_id').notNullable();
    t.text('account_id').notNullable();
    t.text('sid').nullable();
    t.text('status').notNullable().defaultTo('pending'); // pending | sent | failed
    t.integer('attempts').notNullable().defaultTo(0);
    t.timestamp('next_attempt_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.text('last_error').nullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.timestamp('sent_at', { useTz: true }).nullable();
  });
  await db.raw(`create index backchannel_logouts_due on backchannel_logouts (next_attempt_at) where status = 'pending'`);
}

export async function down(db: Knex): Promise<void> {
  for (const t of ['backchannel_logouts', 'audit_log', 'throttle', 'signing_keys', 'oidc_models', 'clients', 'users', 'schools']) {
    await db.schema.dropTableIfExists(t);
  }
  await db.raw('drop function if exists audit_log_append_only()');
}
