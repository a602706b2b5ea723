// oidc-provider runs each request inside this AsyncLocalStorage (lib/helpers/initialize_app.js);
// it has no typings of its own. The version is pinned, so the internal path is stable.
declare module 'oidc-provider/lib/helpers/als.js' {
  import type { AsyncLocalStorage } from 'node:async_hooks';
  const als: AsyncLocalStorage<unknown>;
  export default als;
}
