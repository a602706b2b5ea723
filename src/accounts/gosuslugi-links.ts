/**
 * The Gosuslugi links of an account (`federated_identities`): made at a Gosuslugi login, removed
 * by the holder (/account), a curator (console), or with the school's or the roster's SNILS that
 * made them (the esia_link / esia_unlink rows of effects-contacts.ts). The account library is
 * their only writer; esia/queries.ts keeps the reads and the flows.
 */
import { affected, type Queryable } from '../db/index.js';
import type { Origin, Via } from '../esia/match.js';
import { LINK_COLUMNS, PROOF_RANK, PROVIDER, type Link, type Proof } from '../esia/queries.js';
import type { Tx } from '../db/index.js';
import type { AppContext } from '../server/context.js';
import type { AuditWriter } from '../audit/bound.js';
import { announceLink, announceUnlink, linkHow, type UnlinkBy } from '../esia/notify.js';
import { findAccountById, type Account } from './queries.js';
import { CONTACT_EFFECTS } from './effects-contacts.js';

export interface NewLink {
  via: Via | 'chooser';
  origin?: Origin;
  originUserId?: string | null;
  proof: Proof;
}

/**
 * Links the account to the oid (or finds the link) and stamps the login. Returns 'linked' for a
 * new link, 'existing', or 'conflict' when the account is linked to another ESIA person. A login
 * that proved more than the existing link records it (a link made by data alone becomes the
 * holder's once they give their password and code).
 */
async function linkAccount(db: Queryable, userId: string, subject: string, l: NewLink): Promise<'linked' | 'existing' | 'conflict'> {
  const inserted = await db('federated_identities')
    .insert({ provider: PROVIDER, subject, user_id: userId, linked_via: l.via, origin: l.origin ?? null, origin_user_id: l.originUserId ?? null, proof: l.proof, last_login_at: db.fn.now() })
    .onConflict(['provider', 'user_id'])
    .ignore()
    .returning('id');
  if (inserted.length) return 'linked';
  const mine = () => db('federated_identities').where({ provider: PROVIDER, user_id: userId, subject });
  const n = affected(await mine().update({ last_login_at: db.fn.now() }));
  const weaker = (Object.keys(PROOF_RANK) as Proof[]).filter((p) => PROOF_RANK[p] < PROOF_RANK[l.proof]);
  if (n && weaker.length) await mine().whereIn('proof', weaker).update({ proof: l.proof });
  return n ? 'existing' : 'conflict';
}

/** Removes the account's link; returns it (for the audit and the letter), or undefined when there was none. */
async function unlinkAccount(db: Queryable, userId: string): Promise<Link | undefined> {
  const [row] = await db('federated_identities').where({ provider: PROVIDER, user_id: userId }).del().returning(LINK_COLUMNS);
  return row as Link | undefined;
}

/**
 * The link that the account's school-entered SNILS made by itself (no password given): when that
 * SNILS is removed or replaced, the link goes with it rather than staying behind unseen.
 */
async function unlinkMadeBySchoolSnils(db: Queryable, userId: string): Promise<Link | undefined> {
  const [row] = await db('federated_identities')
    .where({ provider: PROVIDER, user_id: userId, linked_via: 'snils_school', proof: 'none' })
    // Links from before origins were recorded (null) go too: they cannot be told apart, and the holder can link again.
    .where((q) => q.whereIn('origin', ['curator', 'school']).orWhereNull('origin'))
    .del()
    .returning(LINK_COLUMNS);
  return row as Link | undefined;
}

/** The same for roster entries whose SNILS an import replaced: the links their old SNILS made by itself. */
async function unlinkMadeByRosterSnils(db: Queryable, personIds: string[]): Promise<(Link & { user_id: string })[]> {
  if (!personIds.length) return [];
  return db('federated_identities')
    .where({ provider: PROVIDER, linked_via: 'snils_school', proof: 'none' })
    .where((q) => q.where('origin', 'roster').orWhereNull('origin'))
    .whereIn('user_id', db('users').whereIn('person_id', personIds).select('id'))
    .del()
    .returning([...LINK_COLUMNS, 'user_id']) as Promise<(Link & { user_id: string })[]>;
}

/**
 * Removes the account's Gosuslugi link (`esia_unlink`): `holder` and `curator` remove whatever
 * link there is; `snils_removed` only the link the school's SNILS made by itself (no password
 * given), when a curator changes or removes that SNILS. `by` records it; the holder's confirmed
 * address is told. Returns the removed link, or undefined when there was none.
 */
export async function unlinkGosuslugi(app: AppContext, trx: Tx, account: Account, why: UnlinkBy, by: AuditWriter): Promise<Link | undefined> {
  const removed = why === 'snils_removed' ? await unlinkMadeBySchoolSnils(trx, account.id) : await unlinkAccount(trx, account.id);
  if (removed) await unlinked(app, trx, account, removed, why, by);
  return removed;
}

/**
 * After a roster import replaced SNILS numbers: the links the old numbers made by themselves are
 * removed, each recorded by the importer's writer and announced (`esia_unlink`, `snils_removed`).
 */
export async function unlinkAfterRosterSnilsChange(app: AppContext, trx: Tx, personIds: string[], by: AuditWriter): Promise<number> {
  const removed = await unlinkMadeByRosterSnils(trx, personIds);
  for (const link of removed) {
    const account = await findAccountById(trx, link.user_id);
    if (account) await unlinked(app, trx, account, link, 'snils_removed', by);
  }
  return removed.length;
}

async function unlinked(app: AppContext, trx: Tx, account: Account, link: Link, why: UnlinkBy, by: AuditWriter): Promise<void> {
  await by.record({ action: CONTACT_EFFECTS.esia_unlink.audit, schoolId: account.school_id, target: { type: 'user', id: account.id }, details: { by: why, origin: link.origin, linkedVia: link.linked_via } }, trx);
  for (const letter of CONTACT_EFFECTS.esia_unlink.letters) if (letter.to === 'confirmed') await announceUnlink(app, trx, account, why);
}

/**
 * A Gosuslugi login's link (`esia_link`): links the account to the oid, or finds the link (a login
 * that proved more than the link records it). A new link is recorded by `by` — the holder when
 * they proved it, the system when the data alone made it: the caller binds which — with where its
 * data came from, and announced to the confirmed address, naming the curator who entered the data.
 */
export async function linkGosuslugi(app: AppContext, trx: Tx, account: Account, subject: string, l: NewLink, by: AuditWriter, details: Record<string, unknown> = {}): Promise<'linked' | 'existing' | 'conflict'> {
  const outcome = await linkAccount(trx, account.id, subject, l);
  if (outcome !== 'linked') return outcome;
  const originUserId = l.originUserId ?? null;
  await by.record({ action: CONTACT_EFFECTS.esia_link.audit, schoolId: account.school_id, target: { type: 'user', id: account.id }, details: { ...details, origin: l.origin, originUserId, proof: l.proof } }, trx);
  for (const letter of CONTACT_EFFECTS.esia_link.letters) {
    if (letter.to !== 'confirmed') continue;
    const curator = originUserId ? await findAccountById(trx, originUserId) : undefined;
    await announceLink(app, trx, account, linkHow({ origin: l.origin, proof: l.proof }), curator?.login);
  }
  return outcome;
}
