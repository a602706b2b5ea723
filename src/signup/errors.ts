/** What can go wrong when codes are redeemed, named for the page that explains it. */
export type RegistrationProblem = 'redeemed' | 'revoked' | 'expired' | 'login_taken' | 'guardians_full' | 'person_has_account'
  /** The school's roster holds the person's data in a form today's field rules refuse (an older import). */
  | 'roster_invalid';

export class RegistrationError extends Error {
  override name = 'RegistrationError';
  constructor(
    readonly problem: RegistrationProblem,
    readonly params: Record<string, string> = {},
  ) {
    super(problem);
  }
}
