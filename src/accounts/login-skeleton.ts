/**
 * Look-alike logins (issue 16.5): `studеnt` with a Cyrillic «е» must not register beside
 * `student`. Two rules, both for uniqueness only — signing in still compares the login as typed
 * (lower-cased), never by skeleton, so a look-alike never opens somebody else's account:
 *
 * - a login's letters come from one script, Latin or Cyrillic (digits, `.`, `_`, `-` go with
 *   either): a mixed login is refused;
 * - logins are unique per school by their confusable skeleton (Unicode TS #39, section 4):
 *   NFD, each character replaced by its prototype from Unicode's confusables.txt, NFD again.
 *   The skeleton is then lower-cased (logins are case-insensitive) and mapped once more, so that a
 *   lower-case letter the fold produced meets its own prototype. So `ВОХ` (Cyrillic) is `box`,
 *   `l0gin` is `login`, `Ivan` (capital i) is `lvan`.
 *
 * The mapping is the `unhomoglyph` package (nodeca, MIT): confusables.txt 13.0.0 as a table from
 * each source code point to its prototype, applied code point by code point.
 */
import unhomoglyph from 'unhomoglyph';

/** The TS #39 skeleton of a login, case-folded: equal skeletons look alike. Stored in `users.login_skeleton`. */
export function loginSkeleton(login: string): string {
  const skeleton = unhomoglyph(login.normalize('NFD')).normalize('NFD');
  return unhomoglyph(skeleton.toLowerCase()).normalize('NFD');
}

const LATIN = /[A-Za-z]/;
const CYRILLIC = /[А-Яа-яЁё]/;

/** Letters of both alphabets in one login (the login pattern admits no other letters). */
export function mixesScripts(login: string): boolean {
  return LATIN.test(login) && CYRILLIC.test(login);
}
