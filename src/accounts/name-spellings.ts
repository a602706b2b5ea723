/**
 * Does a password hold a person's name, however it is spelled? The name in Cyrillic, in the Latin
 * of a passport (Приказ МВД 2017, ICAO Doc 9303), of ГОСТ 7.79-2000 system B (its ` and ' dropped:
 * passwords are letters and digits) and of everyday writing (Sascha, Julia, Natalja), and the most
 * common short forms of first names (Маша for Мария: what a person calls themselves).
 *
 * Spellings are not enumerated: «Щукина-Хрущёва» alone has 4·3·4·…·3 of them. The matcher walks
 * the password once per name part with the set of positions reached so far, trying each letter's
 * few spellings at each position (an NFA run). Its cost is the password's length × the name's
 * letters × the spellings of a letter (at most 6): no cap is needed and none cuts a spelling off.
 */

/** Each Cyrillic letter's Latin spellings (all lower case); the letter itself is always allowed. */
const LETTER: Record<string, string[]> = {
  а: ['a'], б: ['b'], в: ['v', 'w'], г: ['g'], д: ['d'],
  е: ['e', 'ye', 'je', 'ё'], ё: ['e', 'yo', 'jo', 'io', 'ye', 'е'], ж: ['zh', 'j', 'z'], з: ['z'],
  и: ['i', 'y'], й: ['y', 'i', 'j', ''], к: ['k', 'c'], л: ['l'], м: ['m'], н: ['n'], о: ['o'],
  п: ['p'], р: ['r'], с: ['s'], т: ['t'], у: ['u', 'ou'], ф: ['f', 'ph'],
  х: ['h', 'kh', 'x', 'ch'], ц: ['c', 'ts', 'cz', 'tz', 'z'], ч: ['ch', 'tch', 'tsch'],
  ш: ['sh', 'sch'], щ: ['sch', 'shch', 'shh', 'sh'],
  ъ: ['', 'ie'], ы: ['y', 'i'], ь: ['', 'i', 'y'], э: ['e'],
  ю: ['yu', 'ju', 'iu', 'u'], я: ['ya', 'ja', 'ia'],
};

/** Letter pairs written as one in Latin: Alexander, Xenia; Yulia, Maria (ия as ia). */
const PAIR: Record<string, string[]> = {
  кс: ['x', 'ks', 'cs'],
  ия: ['ia', 'iya', 'ija', 'iia', 'ya'],
  ий: ['i', 'y', 'iy', 'ij', 'ii', 'yi'],
  ый: ['y', 'iy', 'yi', 'yj', 'ij'],
};

/**
 * The most common short forms of Russian first names: what a person calls themselves and so puts
 * in a password. Deliberately small (full names → everyday form), not a dictionary of endearments.
 */
const SHORT_FORMS: Record<string, string[]> = {
  александр: ['саша', 'шура', 'алекс'], александра: ['саша', 'шура'], алексей: ['лёша', 'алёша'],
  анастасия: ['настя'], анатолий: ['толя'], андрей: ['андрюша'], анна: ['аня'], антон: ['антоша'],
  артём: ['тёма'], борис: ['боря'], валентина: ['валя'], валерия: ['лера'], василий: ['вася'],
  виктор: ['витя'], виктория: ['вика'], виталий: ['виталик'], владимир: ['вова', 'володя'],
  владислав: ['влад', 'владик'], вячеслав: ['слава'], галина: ['галя'], георгий: ['гоша', 'жора'],
  григорий: ['гриша'], дарья: ['даша'], денис: ['дениска'], дмитрий: ['дима', 'митя'],
  евгений: ['женя'], евгения: ['женя'], екатерина: ['катя'], елена: ['лена'], елизавета: ['лиза'],
  иван: ['ваня'], игорь: ['игорёк'], илья: ['илюша'], ирина: ['ира'], кирилл: ['кирюша'],
  константин: ['костя'], ксения: ['ксюша'], любовь: ['люба'], людмила: ['люда', 'мила'],
  маргарита: ['рита'], мария: ['маша'], михаил: ['миша'], надежда: ['надя'], наталья: ['наташа'],
  наталия: ['наташа'], никита: ['никитос'], николай: ['коля'], ольга: ['оля'], павел: ['паша'],
  пётр: ['петя'], петр: ['петя'], полина: ['поля'], роман: ['рома'], светлана: ['света'],
  семён: ['сёма'], сергей: ['серёжа'], софия: ['соня'], софья: ['соня'], станислав: ['стас'],
  степан: ['стёпа'], татьяна: ['таня'], тимофей: ['тима'], юлия: ['юля'], юрий: ['юра'], ярослав: ['слава'],
};

/**
 * Name parts shorter than this are not looked for (Ян, Ли, Ия): two letters are inside half the
 * words a person could choose. Active Directory's complexity rule ignores such tokens for the
 * same reason.
 */
export const MIN_NAME_PART = 3;
/**
 * Short forms are a guess at what a person calls themselves, so they need one letter more: «Ира»
 * would refuse «Pirate2024» and «Admiral77» for every Ирина, «Оля» «Foliage1»; Маша, Саша, Дима stay.
 */
const MIN_SHORT_FORM = 4;

/** A name's parts as the password rule looks for them: lower case, split at spaces and hyphens, with short forms. */
export function nameParts(names: readonly (string | null | undefined)[]): string[] {
  const parts = new Set<string>();
  for (const name of names) {
    for (const part of (name ?? '').normalize('NFC').toLowerCase().split(/[^\p{L}]+/u)) {
      if ([...part].length < MIN_NAME_PART) continue;
      parts.add(part);
      for (const short of SHORT_FORMS[part] ?? SHORT_FORMS[part.replace(/ё/g, 'е')] ?? []) {
        if ([...short].length >= MIN_SHORT_FORM) parts.add(short);
      }
    }
  }
  return [...parts];
}

/** true when `text` (lower case) holds one of the spellings of `part` (from nameParts). */
export function holdsName(text: string, part: string): boolean {
  const letters = [...part];
  // ends[i]: the positions in `text` where a spelling of the name's first i letters can end;
  // any position can start one (a substring).
  const ends: Set<number>[] = letters.map(() => new Set<number>()).concat([new Set<number>()]);
  for (let p = 0; p <= text.length; p++) ends[0]!.add(p);
  for (let i = 0; i < letters.length; i++) {
    const c = letters[i]!;
    const pair = PAIR[c + (letters[i + 1] ?? '')];
    for (const p of ends[i]!) {
      for (const s of [c, ...(LETTER[c] ?? [])]) if (text.startsWith(s, p)) ends[i + 1]!.add(p + s.length);
      if (pair) for (const s of pair) if (text.startsWith(s, p)) ends[i + 2]!.add(p + s.length);
    }
    if (!ends[i + 1]!.size && !ends[i + 2]?.size) return false;
  }
  return ends[letters.length]!.size > 0;
}
