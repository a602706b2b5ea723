/**
 * Which journal accounts an ESIA person may log in as (FAQ: «поиск пользователя по следующим
 * данным: СНИЛС, email, мобильный телефон»). ESIA's side is already reduced to what it verified
 * (client.ts); here only local data the school vouches for counts, and only active accounts not
 * linked to another ESIA person:
 *   linked — the account is linked to this oid already;
 *   strong — SNILS entered by the school (roster or curator), or an email confirmed on both sides:
 *            linked and logged in at once;
 *   weak   — only the phone, or a SNILS the person typed: the account's password is asked once
 *            before linking (typos and family members sharing a phone must not open an account).
 * Each candidate also says where the matching data came from (`origin`): data someone else
 * entered links by itself only accounts without a privileged role or a second factor (guard.ts).
 */
import type { Queryable } from '../db/index.js';
import type { EsiaPerson } from './client.js';

export type Strength = 'linked' | 'strong' | 'weak';
export type Via = 'link' | 'snils_school' | 'snils_self' | 'email' | 'phone';

/** Who entered the data that matched: the roster, a curator (named), the school (CLI), a confirmed email, the holder. */
export type Origin = 'roster' | 'curator' | 'school' | 'email' | 'holder';

export interface Candidate {
  userId: string;
  strength: Strength;
  via: Via[];
  origin?: Origin;
  /** The curator whose entry matched. */
  originUserId?: string | null;
}

/** More would mean shared data gone wrong; the chooser shows at most this many. */
const MAX_CANDIDATES = 20;

interface Row {
  id: string;
  subject: string | null;
  person_snils: string | null;
  snils: string | null;
  snils_source: string | null;
  email: string | null;
  email_verified_at: Date | null;
  phone: string | null;
  person_phone: string | null;
  snils_entered_by: string | null;
  email_entered_by: string | null;
}

export async function findCandidates(db: Queryable, p: EsiaPerson): Promise<Candidate[]> {
  const marks = (n: number) => Array(n).fill('?').join(',');
  const rows: Row[] = await db('users as u')
    .leftJoin('people as p', 'p.id', 'u.person_id')
    .leftJoin('federated_identities as f', (j) => j.on('f.user_id', 'u.id').andOnVal('f.provider', 'esia'))
    .whereNull('u.disabled_at')
    .whereNot('u.kind', 'platform') // platform staff never log in through a citizen's account
    .where((q) => q.whereNull('f.subject').orWhere('f.subject', p.oid))
    .where((q) => {
      q.where('f.subject', p.oid);
      if (p.snils) q.orWhere('p.snils', p.snils).orWhere('u.snils', p.snils);
      if (p.emails.length) {
        q.orWhere((e) => e.whereNotNull('u.email_verified_at').whereRaw(`lower(u.email) in (${marks(p.emails.length)})`, p.emails));
      }
      if (p.phones.length) q.orWhereIn('u.phone', p.phones).orWhereIn('p.phone', p.phones);
    })
    .orderBy('u.created_at')
    .limit(MAX_CANDIDATES)
    .select('u.id', 'f.subject', 'p.snils as person_snils', 'u.snils', 'u.snils_source', 'u.email', 'u.email_verified_at', 'u.phone', 'p.phone as person_phone', 'u.snils_entered_by', 'u.email_entered_by');

  return rows.map((r) => {
    const via: Via[] = [];
    if (r.subject === p.oid) via.push('link');
    if (p.snils && (r.person_snils === p.snils || (r.snils === p.snils && r.snils_source === 'school'))) via.push('snils_school');
    if (p.snils && r.snils === p.snils && r.snils_source === 'self' && r.person_snils !== p.snils) via.push('snils_self');
    if (r.email && r.email_verified_at && p.emails.includes(r.email.toLowerCase())) via.push('email');
    if ((r.phone && p.phones.includes(r.phone)) || (r.person_phone && p.phones.includes(r.person_phone))) via.push('phone');
    const strength: Strength = via.includes('link') ? 'linked' : via.includes('snils_school') || via.includes('email') ? 'strong' : 'weak';
    const { origin, originUserId } = originOf(r, via, p);
    return { userId: r.id, strength, via, origin, originUserId };
  });
}

/** Where the data that links (the strongest match) came from. */
function originOf(r: Row, via: Via[], p: EsiaPerson): { origin?: Origin; originUserId?: string | null } {
  if (via.includes('snils_school')) {
    if (p.snils && r.person_snils === p.snils) return { origin: 'roster' };
    return r.snils_entered_by ? { origin: 'curator', originUserId: r.snils_entered_by } : { origin: 'school' };
  }
  if (via.includes('email')) return r.email_entered_by ? { origin: 'curator', originUserId: r.email_entered_by } : { origin: 'email' };
  if (via.includes('snils_self') || via.includes('phone')) return { origin: 'holder' };
  return {};
}
