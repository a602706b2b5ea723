/**
 * What relying parties learn about a person: standard OIDC claims plus the journal's `school`
 * (with the student's `class`), `roles` and `children`, each released only under its scope —
 * and children's data only as data-policy.ts allows for the app asking.
 */
import type { Account as OidcAccount, AccountClaims } from 'oidc-provider';
import type { Db } from '../db/index.js';
import { findAccountById, type Account } from '../accounts/queries.js';
import { findSchoolById, type School } from '../schools/queries.js';
import { findPersonById } from '../roster/queries.js';
import { childrenOf, type Child } from '../accounts/guardianships.js';
import { childDataRelease, type RelyingParty } from './data-policy.js';

/** Scope → the claims it releases (oidc-provider's `claims` setting). */
export const SCOPE_CLAIMS = {
  openid: ['sub'],
  profile: ['name', 'family_name', 'given_name', 'middle_name', 'birthdate', 'preferred_username', 'locale'],
  email: ['email', 'email_verified'],
  phone: ['phone_number', 'phone_number_verified'],
  school: ['school', 'class'],
  roles: ['roles'],
  children: ['children'],
} as const;

/**
 * The roles a relying party sees: the kind of account, its staff/platform roles, and `parent`
 * for anyone linked to a child (a teacher whose child studies at the school is both).
 */
export function rolesOf(account: Pick<Account, 'kind' | 'roles'>, hasChildren = false): string[] {
  const kindRole = account.kind === 'staff' || account.kind === 'platform' ? [] : [account.kind];
  return [...new Set([...kindRole, ...account.roles, ...(hasChildren ? ['parent'] : [])])];
}

export function fullName(a: Pick<Account, 'last_name' | 'first_name' | 'middle_name' | 'login'>): string {
  return [a.last_name, a.first_name, a.middle_name].filter(Boolean).join(' ') || a.login;
}

export function accountClaims(
  account: Account,
  school: School | undefined,
  extra: { className?: string | null; children?: Child[]; withholdChildren?: boolean; withholdBirthdate?: boolean; isParent?: boolean } = {},
): AccountClaims {
  const children = extra.children ?? [];
  return {
    sub: account.id,
    name: fullName(account),
    family_name: account.last_name ?? undefined,
    given_name: account.first_name ?? undefined,
    middle_name: account.middle_name ?? undefined,
    birthdate: extra.withholdBirthdate ? undefined : account.birth_date ?? undefined,
    preferred_username: account.login,
    email: account.email ?? undefined,
    email_verified: account.email ? Boolean(account.email_verified_at) : undefined,
    phone_number: account.phone ?? undefined,
    phone_number_verified: account.phone ? false : undefined,
    school: school ? { id: school.id, number: school.number, name: school.name } : undefined,
    class: extra.className ?? undefined,
    roles: rolesOf(account, extra.isParent ?? children.length > 0),
    children: account.kind === 'platform' || extra.withholdChildren
      ? undefined
      : children.map((c) => ({ id: c.id, ...(c.user_id ? { sub: c.user_id } : {}), name: c.name, class: c.class_name })),
  };
}

/** The OIDC view of an account, or undefined when it is gone or disabled (ends its sessions' use). */
export interface JournalAccount extends OidcAccount {
  account: Account;
  school?: School;
}

/**
 * Schools as the token endpoints see them, kept for a few seconds per node: refresh and userinfo
 * then skip a query each. A renamed school reaches the claims within that time; the account
 * itself (disabled, moved to another school) is read on every request.
 */
const SCHOOL_CACHE_MS = 3000;
const schoolCaches = new WeakMap<object, Map<string, { school: School | undefined; until: number }>>();

async function cachedSchool(db: Db, id: string): Promise<School | undefined> {
  let cache = schoolCaches.get(db);
  if (!cache) schoolCaches.set(db, (cache = new Map()));
  const hit = cache.get(id);
  if (hit && hit.until > Date.now()) return hit.school;
  const school = await findSchoolById(db, id);
  if (cache.size >= 1000) cache.clear();
  cache.set(id, { school, until: Date.now() + SCHOOL_CACHE_MS });
  return school;
}

/**
 * `rp`: the app the claims are for (children's data follows data-policy.ts). `readAhead`: the
 * account as the same request read it with its token (oidc/read-ahead.ts), instead of reading it again.
 */
export async function loadOidcAccount(db: Db, sub: string, rp: RelyingParty | undefined, readAhead?: Account): Promise<JournalAccount | undefined> {
  const account = readAhead ?? (await findAccountById(db, sub));
  if (!account || account.disabled_at) return undefined;
  const school = account.school_id ? await cachedSchool(db, account.school_id) : undefined;
  return {
    accountId: account.id,
    account,
    school,
    claims: async () => {
      const [person, children] = await Promise.all([
        account.kind === 'student' && account.person_id ? findPersonById(db, account.person_id) : undefined,
        account.kind === 'parent' || account.kind === 'staff' ? childrenOf(db, account.id) : [],
      ]);
      const release = await childDataRelease(db, rp, account.school_id, children);
      // Being a parent is the account's own fact; whose parent, only where the policy allows.
      return accountClaims(account, school, {
        className: release.own ? person?.class_name : undefined,
        withholdBirthdate: !release.own,
        children: release.children,
        withholdChildren: !release.children,
        isParent: children.length > 0,
      });
    },
  };
}
