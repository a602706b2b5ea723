/** What every route and service gets: one object, built once at start (tests build their own). */
import type { Config } from '../config/index.js';
import type { Db } from '../db/index.js';
import type { Logger } from './logger.js';
import type { OidcService } from '../oidc/provider.js';
import type { Passwords } from '../accounts/password.js';
import type { Throttle } from '../throttle/throttle.js';
import type { Csrf } from './csrf.js';
import type { SessionService } from '../oidc/end-sessions.js';
import type { Mailer } from '../email/outbox.js';
import type { RecoveryService } from '../recovery/service.js';
import type { EsiaService } from '../esia/service.js';

export interface AppContext {
  config: Config;
  db: Db;
  logger: Logger;
  oidc: OidcService;
  passwords: Passwords;
  throttle: Throttle;
  csrf: Csrf;
  sessions: SessionService;
  mail: Mailer;
  recovery: RecoveryService;
  /** «Войти через Госуслуги»; undefined when ESIA is not configured. */
  esia?: EsiaService;
}
