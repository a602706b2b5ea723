/** What a person reads about the configured password rule: the hint under the field and each problem. */
import type { MessageKey, Translate } from '../i18n/index.js';
import type { PasswordPolicy, PasswordProblem } from './password-policy.js';

export function passwordRules(t: Translate, policy: PasswordPolicy): string {
  return t(policy.allowSymbols ? 'password.rules.symbols' : 'password.rules', { min: policy.minLength });
}

export function passwordProblemText(t: Translate, problem: PasswordProblem, policy: PasswordPolicy): string {
  return t(`password.${problem}` as MessageKey, { min: policy.minLength, max: policy.maxLength });
}
