/**
 * The signer chosen by ESIA_SIGNER, checked at start by signing (and, where the certificate is at
 * hand, verifying) a probe message: a missing engine, an unreadable key or a key that does not
 * belong to the certificate stops the start with one line, not the first person's login.
 */
import { verify } from 'node:crypto';
import type { Config } from '../../config/index.js';
import { SignerError, type EsiaSigner } from './signer.js';
import { createOpensslGostSigner, gostVerify } from './openssl-gost.js';
import { createDevSigner, devPublicKey } from './dev.js';
import { createHttpSigner } from './http.js';

export { SignerError, type EsiaSigner };

/**
 * `warn`: where the http signer's failed probe goes. A signing service is a separate process that
 * may come up after the provider (container order) or be down for a minute: that must not stop
 * the provider — and every password login with it. Its misconfiguration (no URL, no hash) still
 * stops the start; while it does not answer, a Gosuslugi login shows «временно недоступны».
 */
export async function createSigner(config: Config, warn?: (message: string, fields: Record<string, unknown>) => void): Promise<EsiaSigner> {
  const e = config.esia;
  const probe = Buffer.from(`journal-id start-up check ${new Date().toISOString()}`);
  switch (e.signer) {
    case 'openssl-gost': {
      const signer = await createOpensslGostSigner({ keyFile: e.keyFile!, certFile: e.certFile!, openssl: e.openssl });
      const sig = await signer.sign(probe).catch((err: Error) => {
        throw new SignerError(`ESIA signer cannot sign: ${err.message}`);
      });
      if (!(await gostVerify(e.certFile!, probe, sig, e.openssl))) {
        throw new SignerError('ESIA_KEY_FILE does not belong to ESIA_CERT_FILE (a probe signature did not verify)');
      }
      return signer;
    }
    case 'dev': {
      const signer = createDevSigner({ keyFile: e.keyFile, certFile: e.certFile, generate: config.dev });
      const sig = await signer.sign(probe);
      const key = devPublicKey(e.certFile!);
      const ok = verify('sha256', probe, key.asymmetricKeyType === 'ec' ? { key, dsaEncoding: 'ieee-p1363' } : key, sig);
      if (!ok) throw new SignerError('ESIA dev signer: a probe signature did not verify');
      return signer;
    }
    case 'http': {
      const signer = createHttpSigner({ url: e.signerUrl, certificateHash: e.certHash, timeoutMs: e.signerTimeoutMs });
      try {
        await signer.sign(probe);
      } catch (err) {
        if (!warn || !(err instanceof SignerError)) throw err;
        warn('ESIA signing service does not sign yet; Gosuslugi logins show «temporarily unavailable» until it does', { reason: err.message });
      }
      return signer;
    }
  }
}
