/**
 * The fake ESIA's test people: their shape, a loader that checks a JSON file of them, and the
 * default set (people.json). Checked at start so a typo in a fixture fails loudly there, not as
 * a puzzling answer in the middle of a login.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export type ContactType = 'EML' | 'MBT' | 'PHN';

export interface FakeContact {
  type: ContactType;
  value: string;
  vrfStu: 'VERIFIED' | 'NOT_VERIFIED';
}

export interface FakePerson {
  oid: number;
  lastName: string;
  firstName: string;
  middleName?: string;
  /** dd.MM.yyyy, as ESIA writes it. */
  birthDate?: string;
  gender?: 'M' | 'F';
  /** A confirmed account (подтверждённая учётная запись); false: a simplified one. */
  trusted: boolean;
  /** '112-233-445 95'. Not checksum-checked: ESIA's own test people have SNILS that fail it. */
  snils?: string;
  contacts: FakeContact[];
}

export const DEFAULT_PEOPLE_FILE = fileURLToPath(new URL('./people.json', import.meta.url));

const isString = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '';

/** Throws a message naming the person and field at fault. */
export function checkPeople(input: unknown): FakePerson[] {
  if (!Array.isArray(input) || input.length === 0) throw new Error('people: expected a non-empty array');
  const seen = new Set<number>();
  return input.map((raw: unknown, i): FakePerson => {
    const at = `people[${i}]`;
    if (typeof raw !== 'object' || raw === null) throw new Error(`${at}: expected an object`);
    const p = raw as Record<string, unknown>;
    if (!Number.isSafeInteger(p.oid) || (p.oid as number) <= 0) throw new Error(`${at}.oid: expected a positive integer`);
    const oid = p.oid as number;
    if (seen.has(oid)) throw new Error(`${at}.oid: ${oid} is used twice`);
    seen.add(oid);
    for (const f of ['lastName', 'firstName'] as const) if (!isString(p[f])) throw new Error(`${at}.${f}: expected a non-empty string`);
    if (p.middleName !== undefined && !isString(p.middleName)) throw new Error(`${at}.middleName: expected a non-empty string`);
    if (p.birthDate !== undefined && !(typeof p.birthDate === 'string' && /^\d{2}\.\d{2}\.\d{4}$/.test(p.birthDate))) throw new Error(`${at}.birthDate: expected dd.MM.yyyy`);
    if (p.gender !== undefined && p.gender !== 'M' && p.gender !== 'F') throw new Error(`${at}.gender: expected M or F`);
    if (typeof p.trusted !== 'boolean') throw new Error(`${at}.trusted: expected true or false`);
    if (p.snils !== undefined && !(typeof p.snils === 'string' && /^\d{3}-\d{3}-\d{3} \d{2}$/.test(p.snils))) throw new Error(`${at}.snils: expected a SNILS such as 112-233-445 95`);
    if (!Array.isArray(p.contacts)) throw new Error(`${at}.contacts: expected an array`);
    const contacts = p.contacts.map((c: unknown, j): FakeContact => {
      const cat = `${at}.contacts[${j}]`;
      const o = (typeof c === 'object' && c !== null ? c : {}) as Record<string, unknown>;
      if (o.type !== 'EML' && o.type !== 'MBT' && o.type !== 'PHN') throw new Error(`${cat}.type: expected EML, MBT or PHN`);
      if (!isString(o.value)) throw new Error(`${cat}.value: expected a non-empty string`);
      if (o.vrfStu !== 'VERIFIED' && o.vrfStu !== 'NOT_VERIFIED') throw new Error(`${cat}.vrfStu: expected VERIFIED or NOT_VERIFIED`);
      return { type: o.type, value: o.value, vrfStu: o.vrfStu };
    });
    return {
      oid,
      lastName: p.lastName as string,
      firstName: p.firstName as string,
      ...(p.middleName !== undefined && { middleName: p.middleName as string }),
      ...(p.birthDate !== undefined && { birthDate: p.birthDate as string }),
      ...(p.gender !== undefined && { gender: p.gender as 'M' | 'F' }),
      trusted: p.trusted,
      ...(p.snils !== undefined && { snils: p.snils as string }),
      contacts,
    };
  });
}

export async function loadPeople(file: string = DEFAULT_PEOPLE_FILE): Promise<FakePerson[]> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new Error(`people: cannot read ${file}: ${(e as Error).message}`);
  }
  try {
    return checkPeople(json);
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
}
