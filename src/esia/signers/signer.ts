/**
 * ESIA's client authentication: every request carries `client_secret`, a fresh signature of a
 * fixed concatenation of its fields, and `client_certificate_hash`, the hash of the certificate
 * registered for the information system (notes/esia.md §3b). How the signature is made is
 * pluggable; the connector sees only this interface.
 */
export interface EsiaSigner {
  /** openssl-gost | http | dev, for logs and errors. */
  readonly kind: string;
  /** `client_certificate_hash`: hex of GOST R 34.11-2012 (256) over the DER certificate. */
  readonly certificateHash: string;
  /**
   * The raw signature of `message` in ESIA's byte order: GOST R 34.10-2012 (256) as OpenSSL
   * writes it (s‖r, big-endian, 64 bytes), which is CryptoPro's output reversed.
   */
  sign(message: Buffer): Promise<Buffer>;
}

/** A signer that cannot work; the message says what to fix. Stops the start, never a login. */
export class SignerError extends Error {
  override name = 'SignerError';
}
