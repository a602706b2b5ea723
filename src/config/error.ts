/** A configuration problem: the start stops with this one-line message. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}
