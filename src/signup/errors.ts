/** What can go wrong when codes are redeemed, named for the page that explains it. */
export type RegistrationProblem = 'redeemed' | 'revoked' | 'expired' | 'login_taken' | 'guardians_full' | 'person_has_account';

export class RegistrationError extends Error {
  override name = 'RegistrationError';
  constructor(
    readonly problem: RegistrationProblem,
    readonly params: Record<string, string> = {},
  ) {
    super(problem);
  }
}
