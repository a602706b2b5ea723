/**
 * oidc_models by grant: the index leads with grant_id, then model. The old (model, grant_id) one
 * served revokeByGrantId only; the statements that ask for a grant whatever the model — a
 * redeemed code's grant revoked (adapter-queries revokeGrant) and the account page's last use of
 * each signed-in app — read all of it (about 180 MB, ~0.5–1 s, per grant at 5 million rows;
 * issue 8 bench/explain.ts). (grant_id, model) serves all three, at the same size and write cost.
 *
 * Built CONCURRENTLY, outside a transaction: a plain CREATE INDEX would hold the token endpoints'
 * writes for the whole build on a large table. A build that failed leaves an invalid index of the
 * new name, so it is dropped first when there.
 */
import type { Knex } from 'knex';

export const config = { transaction: false };

export async function up(db: Knex): Promise<void> {
  await db.raw('drop index concurrently if exists oidc_models_grant_model');
  await db.raw('create index concurrently oidc_models_grant_model on oidc_models (grant_id, model) where grant_id is not null');
  await db.raw('drop index concurrently if exists oidc_models_grant');
}

export async function down(db: Knex): Promise<void> {
  await db.raw('drop index concurrently if exists oidc_models_grant');
  await db.raw('create index concurrently oidc_models_grant on oidc_models (model, grant_id) where grant_id is not null');
  await db.raw('drop index concurrently if exists oidc_models_grant_model');
}
