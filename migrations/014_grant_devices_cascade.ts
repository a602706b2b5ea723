/**
 * A grant's device row goes with its grant, in the same statement: a foreign key to the Grant row
 * of oidc_models with ON DELETE CASCADE, whatever deletes it (expiry purge, revocation, logout,
 * account deletion). The purge no longer looks for orphans afterwards — at a million grants that
 * anti-join read every row of both tables (about 4 s, 3 GB) on every node every 10 minutes
 * (issue 8, bench/explain.ts).
 *
 * The key is (model, grant_id) → oidc_models (model, id): `model` is a column fixed to 'Grant'.
 * Orphans left by the old purge are deleted first; the key is added NOT VALID and validated
 * afterwards, so the writes of grant_devices are not held while old rows are checked.
 */
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.raw(`delete from grant_devices d where not exists (select 1 from oidc_models g where g.model = 'Grant' and g.id = d.grant_id)`);
  await db.raw(`alter table grant_devices add column model text not null default 'Grant' check (model = 'Grant')`);
  await db.raw(`alter table grant_devices add constraint grant_devices_grant_fk foreign key (model, grant_id)
    references oidc_models (model, id) on delete cascade not valid`);
  await db.raw('alter table grant_devices validate constraint grant_devices_grant_fk');
}

export async function down(db: Knex): Promise<void> {
  await db.raw('alter table grant_devices drop constraint if exists grant_devices_grant_fk');
  await db.raw('alter table grant_devices drop column if exists model');
}
