/** Builds the application context from the configuration: database, migrations, provider, services. */
import path from 'node:path';
import type { Config } from '../config/index.js';
import { createDb, type Db } from '../db/index.js';
import { migrateLatest } from '../db/migrate.js';
import { lockDataDir } from '../db/lock.js';
import { createLogger, type Logger } from './logger.js';
import { createOidc } from '../oidc/provider.js';
import { createPasswords } from '../accounts/password.js';
import { createThrottle } from '../throttle/throttle.js';
import { createCsrf } from './csrf.js';
import { createSessionService } from '../oidc/end-sessions.js';
import { createMailer } from '../email/outbox.js';
import { createRecoveryService } from '../recovery/service.js';
import { createEsia } from '../esia/service.js';
import type { AppContext } from './context.js';

export function openDb(config: Config, logger?: Logger): Db {
  const pgliteDir = path.join(config.dataDir, 'pgdata');
  if (!config.databaseUrl) {
    lockDataDir(pgliteDir); // released when the process exits
    return createDb({ pgliteDir, logger });
  }
  return createDb({ databaseUrl: config.databaseUrl, poolMax: config.dbPoolMax, logger });
}

export async function createAppContext(
  config: Config,
  { logger = createLogger(config.logLevel), db = openDb(config, logger), migrate = config.migrateOnStart } = {} as {
    logger?: Logger;
    db?: Db;
    migrate?: boolean;
  },
): Promise<AppContext> {
  // Before the database: a broken ESIA signer stops the start at once.
  const esia = await createEsia(config, logger);
  if (migrate) {
    const applied = await migrateLatest(db, { onWait: () => logger.info('another node is migrating the database; waiting for it') });
    if (applied.length) logger.info('migrations applied', { applied });
  }
  const oidc = await createOidc({ config, db, logger });
  const sessions = createSessionService({
    db,
    oidc,
    logger,
    maxAttempts: config.backchannel.maxAttempts,
    pollSeconds: config.backchannel.pollSeconds,
  });
  const mail = createMailer({ db, config, logger });
  return {
    config,
    db,
    logger,
    oidc,
    passwords: createPasswords(config.password),
    throttle: createThrottle(db),
    csrf: createCsrf(config.secrets.cookieKeys[0]!),
    sessions,
    mail,
    recovery: createRecoveryService({ db, config, logger, mail }),
    esia,
  };
}
