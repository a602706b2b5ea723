/** `journal-id serve`: migrations (if configured), the demo seed on a first development start, the server. */
import type { Config } from '../config/index.js';
import { createAppContext } from '../server/bootstrap.js';
import { startServer } from '../server/http.js';
import { seedDemo, formatDemo } from '../demo/seed.js';

export async function serve(config: Config, args: string[]): Promise<number> {
  const noDemo = args.includes('--no-demo');
  const app = await createAppContext(config);
  if (config.demo && !noDemo) {
    const demo = await seedDemo(app);
    if (demo) process.stdout.write(formatDemo(demo, config.issuer) + '\n');
  }
  const running = await startServer(app);
  app.logger.info('journal-id listening', {
    url: running.url,
    issuer: config.issuer,
    database: config.embedded ? `embedded PGlite in ${config.dataDir}` : 'PostgreSQL',
    mail: app.mail.describe,
    env: config.nodeEnv,
  });
  const stop = async (signal: string) => {
    app.logger.info('shutting down', { signal });
    await running.close();
    app.logger.info('stopped');
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  return -1; // keep running
}
