/**
 * The one password rule (issue 17.2): the login, every part of the name — in Cyrillic, in the
 * passport's, ГОСТ 7.79's and everyday Latin, as the common short form, on the other keyboard
 * layout — and the birth date in the forms people write it; and no refusal of ordinary passwords.
 */
import { describe, it, expect } from '@jest/globals';
import { checkPassword, birthDateForms, DEFAULT_POLICY } from '../../src/accounts/password-policy.js';
import { holdsName, nameParts } from '../../src/accounts/name-spellings.js';

const maria = { login: 'm.sokolova', names: ['Соколова', 'Мария', 'Игоревна'], birthDate: '2012-03-05' };
// The name alone: with login m.sokolova, «Sokolova2024» is refused as the login first.
const mariaByName = { ...maria, login: 'pupil77' };

describe('the name in its spellings', () => {
  it.each([
    // the examples
    ['Sokolova2024', 'contains_name'], ['sokolova1xyz', 'contains_name'], ['Masha2024x', 'contains_name'],
    // Cyrillic, any case, ё/е
    ['СОКОЛОВА2024', 'contains_name'], ['мария2024', 'contains_name'], ['Маша1999', 'contains_name'],
    // passport (ICAO) Mariia, GOST Mariya, everyday Maria, Marija, Igorevna
    ['Mariia2000', 'contains_name'], ['mariya777', 'contains_name'], ['Maria4ever', 'contains_name'],
    ['marija12345', 'contains_name'], ['IGOREVNA99', 'contains_name'], ['xMashax2024', 'contains_name'],
    // the Russian layout typed on the Latin keys (vfhbz = «мария») and Latin typed on the Russian keys
    ['vfhbz2024', 'contains_name'], ['ыщлщдщмф11', 'contains_name'],
    // a mix of scripts: «Sокоlova» with Cyrillic о
    ['Sокоlova24', 'contains_name'],
  ])('%s is refused for Мария Соколова', (password, problem) => {
    expect(checkPassword(password, mariaByName)).toBe(problem);
    expect(checkPassword(password, maria)).toMatch(/^contains_(name|login)$/);
  });

  it.each([
    ['Щукина', ['Shchukina', 'Schukina', 'Shhukina', 'Shukina']],
    ['Хрущёва', ['Khrushcheva', 'Hruscheva', 'Xrushhyova', 'Hrushchyova']],
    ['Жукова', ['Zhukova', 'Jukova']],
    ['Цветкова', ['Tsvetkova', 'Cvetkova', 'Czvetkova']],
    ['Юлия', ['Yulia', 'Julia', 'Iuliia', 'Yuliya', 'Julija']],
    ['Яковлев', ['Yakovlev', 'Jakovlev', 'Iakovlev']],
    ['Фёдор', ['Fedor', 'Fyodor', 'Fiodor', 'Fjodor']],
    ['Дмитрий', ['Dmitriy', 'Dmitry', 'Dmitrii', 'Dmitrij', 'Dmitri', 'Dima']],
    ['Алексей', ['Aleksey', 'Alexey', 'Aleksei', 'Alexei', 'Alyosha']],
    ['Ксения', ['Kseniya', 'Xenia', 'Ksenia', 'Ksusha']],
    ['Наталья', ['Natalya', 'Natalia', 'Natalja', 'Natasha']],
    ['Александр', ['Sasha', 'Sascha', 'Aleksandr', 'Alexandr']],
    ['Кузьмич', ['Kuzmich', 'Kuzmitch']],
    ['Майя', ['Maiia', 'Maya', 'Maja', 'Mayya']],
  ])('%s is found as each of its spellings', (name, spellings) => {
    const parts = nameParts([name]);
    for (const spelling of spellings) {
      expect([spelling, parts.some((part) => holdsName(`x${spelling.toLowerCase()}7`, part))]).toEqual([spelling, true]);
    }
  });

  it('looks at every part of a double surname and skips parts shorter than three letters', () => {
    expect(checkPassword('Vodkina2024x', { names: ['Петрова-Водкина', 'Ия'] })).toBe('contains_name');
    // «Ия» and «Ян» are inside too many words: a password with «ia» or «yan» is not refused for them
    expect(checkPassword('Bianca2024x', { names: ['Ли', 'Ия'] })).toBeUndefined();
    expect(checkPassword('Cyan2024box', { names: ['Ян', 'Ли'] })).toBeUndefined();
  });

  it('a name long in letters with many spellings is checked quickly (no enumeration)', () => {
    const started = performance.now();
    const person = { names: ['Щукина-Хрущёва-Цыплящева', 'Юлиания', 'Вячеславовна'] };
    for (let i = 0; i < 200; i++) checkPassword('Shchukjuhrusxyzcyplyasheva'.repeat(4) + '1', person);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe('the login', () => {
  it('is refused whole and by its parts, in any case and layout', () => {
    expect(checkPassword('msokolova1', maria)).toBe('contains_login');
    expect(checkPassword('M.Sokolova1x', { ...maria, names: [] }, { ...DEFAULT_POLICY, allowSymbols: true })).toBe('contains_login');
    expect(checkPassword('ыщлщдщмф2024', { login: 'sokolova' })).toBe('contains_login');
  });
});

describe('the birth date', () => {
  it('has the forms people write', () => {
    expect(birthDateForms('2012-03-05')).toEqual(expect.arrayContaining(['05032012', '050312', '20120305', '0503', '2012', '05.03', '532012']));
    expect(birthDateForms('2012-03-05')).not.toContain('0305');
    expect(birthDateForms('not a date')).toEqual([]);
  });

  it.each(['Kot05032012', 'kot050312x', 'kot20120305', 'Kotik0503', 'Kotik2012', 'Kotik532012'])('%s is refused', (password) => {
    expect(checkPassword(password, maria)).toBe('contains_birth_date');
  });

  it('05.03 is refused where symbols are allowed', () => {
    expect(checkPassword('Kotik05.03!', maria, { ...DEFAULT_POLICY, allowSymbols: true })).toBe('contains_birth_date');
  });

  it('another year or the month-first order is not the birth date', () => {
    expect(checkPassword('Kotik2024', maria)).toBeUndefined();
    expect(checkPassword('Kotik0305', maria)).toBeUndefined();
  });
});

describe('ordinary passwords', () => {
  it.each([
    'Vesna2024zima', 'ZelenyKot42', 'Podsolnuh77', 'Tramvai9Rel', 'morskoi5briz', 'Lampa2031Dom', 'GrushaVanilla8',
    'Barsuk1987luna', 'ПтицаСинь73', 'Snegopad2019',
  ])('%s is accepted for Мария Соколова', (password) => {
    expect(checkPassword(password, maria)).toBeUndefined();
  });

  it('short forms of three letters are not looked for: «Ира» is inside pirate and admiral', () => {
    const irina = { login: 'pupil78', names: ['Белова', 'Ирина', 'Олеговна'] };
    for (const password of ['Pirate2024', 'Admiral77x', 'Foliage123', 'Mania2024x']) expect([password, checkPassword(password, irina)]).toEqual([password, undefined]);
    expect(checkPassword('Irina2024x', irina)).toBe('contains_name');
    expect(checkPassword('Mania2024x', mariaByName)).toBeUndefined(); // Маня is not in the table: «mania» is a word
  });

  it('still refuses the common ones, also on the Russian layout', () => {
    expect(checkPassword('qwerty123', {})).toBe('common');
    expect(checkPassword('йцукен123', {})).toBe('common');
  });
});
