/**
 * The scope of the admin API. It is one of the provider's scopes so that oidc-provider checks it
 * against each client's `scope` metadata; only an operator (the CLI) gives it, and only to a
 * confidential client whose one grant is client_credentials, so no person's login can carry it.
 */
export const ADMIN_SCOPE = 'admin';

/** Whether a space-separated scope string names `scope`. */
export function scopeIncludes(scopes: unknown, scope: string): boolean {
  return typeof scopes === 'string' && scopes.split(' ').includes(scope);
}
