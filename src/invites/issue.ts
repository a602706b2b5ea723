/**
 * Issuing invite codes for people of the roster: students get student and parent codes on their
 * name, staff members a code of their role. The plain codes exist only in what this returns (to
 * be printed right away); the database keeps their HMACs. Reprinting revokes and reissues.
 */
import { randomUUID } from 'node:crypto';
import type { Tx } from '../db/index.js';
import type { AuditWriter } from '../audit/bound.js';
import type { Person } from '../roster/queries.js';
import { codeHmac, generateCode, type InviteRole } from './code.js';
import { countParentInvites, insertInvites, listInvites, revokeInvites, type Invite } from './queries.js';

export interface IssueSettings {
  pepper: Buffer;
  codeLength: number;
  maxParentsPerChild: number;
}

/** The issuing settings of the configuration (one place for the CLI and the console). */
export function issueSettingsOf(config: { secrets: { invitePepper: Buffer }; invites: { codeLength: number; maxParentsPerChild: number } }): IssueSettings {
  return { pepper: config.secrets.invitePepper, codeLength: config.invites.codeLength, maxParentsPerChild: config.invites.maxParentsPerChild };
}

export interface IssueRequest {
  schoolId: string;
  people: Person[];
  /** Codes per student: usually one student code and two parent codes. */
  studentCodes: number;
  parentCodes: number;
  expiresAt: Date | null;
  /** Who issues (the request's or the CLI's bound writer). */
  by: AuditWriter;
}

/** A code as printed: shown once, never stored. */
export interface IssuedInvite {
  invite: Invite;
  code: string;
  person: Person;
}

export class IssueError extends Error {
  override name = 'IssueError';
}

export async function issueInvites(trx: Tx, s: IssueSettings, req: IssueRequest): Promise<{ batchId: string; issued: IssuedInvite[] }> {
  if (!req.people.length) throw new IssueError('nobody to issue codes for');
  const batchId = randomUUID();
  const wanted: { person: Person; role: InviteRole }[] = [];
  for (const person of req.people) {
    if (person.school_id !== req.schoolId) throw new IssueError(`${person.id} is not on this school's roster`);
    if (person.left_at) throw new IssueError(`${person.last_name} ${person.first_name} has left the school`);
    if (person.kind === 'staff') {
      wanted.push({ person, role: person.staff_role ?? 'teacher' });
      continue;
    }
    if (req.parentCodes > 0) {
      // Lock the child: two curators issuing at once must not pass the limit together.
      await trx('people').where({ id: person.id }).forUpdate().select('id');
      const existing = await countParentInvites(trx, person.id);
      if (existing + req.parentCodes > s.maxParentsPerChild) {
        throw new IssueError(
          `${person.last_name} ${person.first_name} (${person.class_name}) would have ${existing + req.parentCodes} parent codes; at most ${s.maxParentsPerChild} are allowed (revoke unused ones first)`,
        );
      }
    }
    for (let i = 0; i < req.studentCodes; i++) wanted.push({ person, role: 'student' });
    for (let i = 0; i < req.parentCodes; i++) wanted.push({ person, role: 'parent' });
  }
  const codes = wanted.map((w) => generateCode(w.role, s.codeLength));
  const hmacs = codes.map((c) => codeHmac(s.pepper, c));
  const rows = await insertInvites(
    trx,
    wanted.map((w, i) => ({
      school_id: req.schoolId,
      role: w.role,
      code_hmac: hmacs[i]!,
      person_id: w.person.id,
      class_name: w.person.class_name,
      batch_id: batchId,
      issued_by: actorMark(req.by),
      expires_at: req.expiresAt,
    })),
  );
  await req.by.record({
    action: 'invite.issue',
    schoolId: req.schoolId,
    target: { type: 'invite_batch', id: batchId },
    details: { count: rows.length, people: req.people.length, studentCodes: req.studentCodes, parentCodes: req.parentCodes, expiresAt: req.expiresAt },
  }, trx);
  const byHmac = new Map(rows.map(({ code_hmac, ...invite }) => [code_hmac, invite as Invite]));
  return { batchId, issued: hmacs.map((h, i) => ({ invite: byHmac.get(h)!, code: codes[i]!, person: wanted[i]!.person })) };
}

/**
 * A lost sheet: the person's unused codes of these roles are revoked and as many new ones issued
 * (at least one per role asked for), in one transaction, audited.
 */
export async function reprintInvites(
  trx: Tx,
  s: IssueSettings,
  req: { schoolId: string; person: Person; roles: InviteRole[]; expiresAt: Date | null; by: AuditWriter },
): Promise<{ batchId: string; issued: IssuedInvite[]; revoked: number }> {
  const old = await listInvites(trx, req.schoolId, { personIds: [req.person.id], roles: req.roles, usableOnly: true });
  const revoked = await revokeInvites(trx, old.map((i) => i.id), actorMark(req.by));
  const count = (role: InviteRole) => Math.max(1, old.filter((i) => i.role === role).length);
  const result = await issueInvites(trx, s, {
    schoolId: req.schoolId,
    people: [req.person],
    studentCodes: req.person.kind === 'student' && req.roles.includes('student') ? count('student') : 0,
    parentCodes: req.person.kind === 'student' && req.roles.includes('parent') ? count('parent') : 0,
    expiresAt: req.expiresAt,
    by: req.by,
  });
  await req.by.record({
    action: 'invite.reprint',
    schoolId: req.schoolId,
    target: { type: 'person', id: req.person.id },
    details: { revoked: revoked.length, issued: result.issued.length, batchId: result.batchId },
  }, trx);
  return { ...result, revoked: revoked.length };
}

/** Revokes unused codes (by id), audited. Returns how many were revoked. */
export async function revokeInviteIds(trx: Tx, schoolId: string, ids: string[], by: AuditWriter): Promise<number> {
  const mine = (await trx('invites').select('id').where({ school_id: schoolId }).whereIn('id', ids)) as { id: string }[];
  const revoked = await revokeInvites(trx, mine.map((r) => r.id), actorMark(by));
  for (const id of revoked) {
    await by.record({ action: 'invite.revoke', schoolId, target: { type: 'invite', id } }, trx);
  }
  return revoked.length;
}

/** `issued_by`/`revoked_by` of a code: the acting user's id, else the kind of actor (cli, system). */
function actorMark(by: AuditWriter): string {
  return by.binding.actor.id && by.binding.actor.type === 'user' ? by.binding.actor.id : by.binding.actor.type;
}

/** Expiry of new codes from the configured number of days (0: none). */
export function defaultExpiry(ttlDays: number, now = new Date()): Date | null {
  return ttlDays > 0 ? new Date(now.getTime() + ttlDays * 24 * 3600 * 1000) : null;
}
