/**
 * The interaction policy: oidc-provider's login and consent prompts. Later prompts of the
 * journal (confirm email, change a password set by the curator) are added here, so every
 * relying party gets them.
 */
import { interactionPolicy as op } from 'oidc-provider';

export function interactionPolicy(): ReturnType<typeof op.base> {
  return op.base();
}
