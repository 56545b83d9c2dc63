/**
 * A user mistake in flags or a config file. The message is one line that says what to do;
 * main.ts prints it without a stack trace and exits non-zero.
 */
export class ConfigError extends Error {
  override name = 'ConfigError';
}
