/** A school's roster and invite codes for tests, made through the product's own modules. */
import { systemAudit } from '../../src/audit/bound.js';
import type { AppContext } from '../../src/server/context.js';
import type { School } from '../../src/schools/queries.js';
import { insertPerson, type Person } from '../../src/roster/queries.js';
import type { PersonInput } from '../../src/roster/person-input.js';
import { issueInvites, type IssuedInvite } from '../../src/invites/issue.js';
import type { InviteRole } from '../../src/invites/code.js';

let n = 0;

export async function addStudent(app: AppContext, school: School, over: Partial<PersonInput> = {}): Promise<Person> {
  n += 1;
  return insertPerson(app.db, school.id, {
    kind: 'student',
    staffRole: null,
    lastName: 'Николаев',
    firstName: `Ваня${'абвгдежзиклмнопрстуфхцчшщэюя'[n % 28]}`,
    middleName: 'Петрович',
    birthDate: '2013-04-05',
    className: '6А',
    position: null,
    snils: null,
    phone: null,
    externalId: null,
    ...over,
  });
}

export async function addStaff(app: AppContext, school: School, role: 'teacher' | 'administration' = 'teacher', over: Partial<PersonInput> = {}): Promise<Person> {
  return insertPerson(app.db, school.id, {
    kind: 'staff',
    staffRole: role,
    lastName: 'Иванова',
    firstName: 'Анна',
    middleName: 'Михайловна',
    birthDate: '1985-02-03',
    className: null,
    position: null,
    snils: null,
    phone: null,
    externalId: null,
    ...over,
  });
}

/** Issues codes and returns them by role (the plain codes exist only here, as on a printed sheet). */
export async function issue(
  app: AppContext,
  school: School,
  people: Person[],
  o: { students?: number; parents?: number; expiresAt?: Date | null } = {},
): Promise<IssuedInvite[]> {
  const { issued } = await app.db.transaction((trx) =>
    issueInvites(
      trx,
      { pepper: app.config.secrets.invitePepper, codeLength: app.config.invites.codeLength, maxParentsPerChild: app.config.invites.maxParentsPerChild },
      { schoolId: school.id, people, studentCodes: o.students ?? 1, parentCodes: o.parents ?? 2, expiresAt: o.expiresAt ?? null, by: systemAudit(trx, 'test set-up') },
    ),
  );
  return issued;
}

export function codeOf(issued: IssuedInvite[], person: Person, role: InviteRole, index = 0): string {
  const found = issued.filter((i) => i.person.id === person.id && i.invite.role === role)[index];
  if (!found) throw new Error(`no ${role} code #${index} for ${person.last_name}`);
  return found.code;
}
