/**
 * Invite codes: a role prefix (FAQ «Неверный код приглашения»: st ученик, pt родитель, tr / ar
 * сотрудник школы) and random lower-case letters and digits without look-alikes. What people type
 * is normalised generously; what is stored is only HMAC(pepper, normalised code).
 */
import { createHmac, randomInt } from 'node:crypto';

export type InviteRole = 'student' | 'parent' | 'teacher' | 'administration';
export const INVITE_ROLES: readonly InviteRole[] = ['student', 'parent', 'teacher', 'administration'];

export const ROLE_PREFIX: Record<InviteRole, string> = {
  student: 'st',
  parent: 'pt',
  teacher: 'tr',
  administration: 'ar',
};
const PREFIX_ROLE = Object.fromEntries(Object.entries(ROLE_PREFIX).map(([r, p]) => [p, r as InviteRole]));

/** No 0/o, 1/l/i: codes are read off paper and typed on phones. */
export const CODE_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

export function generateCode(role: InviteRole, length: number): string {
  let s = ROLE_PREFIX[role];
  for (let i = 0; i < length; i++) s += CODE_ALPHABET[randomInt(CODE_ALPHABET.length)];
  return s;
}

/** Cyrillic letters that look like Latin ones, as typed on a Russian keyboard layout by mistake. */
const HOMOGLYPHS: Record<string, string> = {
  а: 'a', в: 'b', е: 'e', к: 'k', м: 'm', н: 'h', о: 'o', р: 'p', с: 'c', т: 't', у: 'y', х: 'x',
};

/** Case, spaces, dashes, dots and Cyrillic look-alikes do not matter. */
export function normalizeCode(input: string): string {
  return input
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[\s\u00ad\-‐‑‒–—―−_.·]/g, '')
    .replace(/[авекмнорстух]/g, (c) => HOMOGLYPHS[c]!);
}

export type CodeShape =
  | { shape: 'ours'; role: InviteRole }
  /** Letters and digits but another prefix: a code of another system (FAQ). */
  | { shape: 'foreign'; prefix: string }
  | { shape: 'malformed' };

export function shapeOf(normalized: string): CodeShape {
  if (!/^[a-z]{2}[a-z0-9]{4,40}$/.test(normalized)) return { shape: 'malformed' };
  const prefix = normalized.slice(0, 2);
  const role = PREFIX_ROLE[prefix];
  if (!role) return { shape: 'foreign', prefix };
  return normalized.length >= 9 ? { shape: 'ours', role } : { shape: 'malformed' };
}

export function codeHmac(pepper: Buffer, normalized: string): string {
  return createHmac('sha256', pepper).update(normalized).digest('hex');
}
