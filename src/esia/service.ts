/**
 * The ESIA connector as the application holds it: built at start when ESIA_CLIENT_ID is set,
 * after the signer has proved it can sign and ESIA's certificates have been read.
 */
import type { Config } from '../config/index.js';
import { ConfigError } from '../config/error.js';
import type { Logger } from '../server/logger.js';
import { createSigner, SignerError } from './signers/index.js';
import { EsiaCertificates } from './certificates.js';
import { createEsiaClient, type EsiaClient } from './client.js';
import { expiredOwnCertificate, warnExpiringCertificates } from './lifetimes.js';

export interface EsiaService {
  client: EsiaClient;
  signerKind: string;
}

export async function createEsia(config: Config, logger: Logger): Promise<EsiaService | undefined> {
  if (!config.esia.clientId) return undefined;
  let signer;
  try {
    signer = await createSigner(config, (message, fields) => logger.warn(message, fields));
  } catch (err) {
    if (err instanceof SignerError) throw new ConfigError(`config: ESIA signer (${config.esia.signer}): ${err.message}`);
    throw err;
  }
  // An expired certificate of ours fails every login at ESIA (ESIA-007053): better not to start.
  const expired = expiredOwnCertificate(config);
  if (expired) throw new ConfigError(expired);
  const certs = new EsiaCertificates(config.esia.certFiles, config.esia.openssl);
  const problems = await certs.check();
  if (problems.length) {
    // The local preset's certificate appears when the fake ESIA starts; elsewhere it is a setup error.
    if (!config.dev) throw new ConfigError(`config: ESIA_CERTS: ${problems.join('; ')}`);
    logger.warn('ESIA certificates not readable yet; Gosuslugi logins will fail until they are', { problems });
  }
  warnExpiringCertificates(config, logger);
  logger.info('Gosuslugi (ESIA) login on', { url: config.esia.url, clientId: config.esia.clientId, signer: signer.kind });
  return { client: createEsiaClient(config, signer, certs, logger), signerKind: signer.kind };
}
