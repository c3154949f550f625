/**
 * A mistake in what the user asked for (a flag, a config value, a missing file): reported as
 * its message alone, exit status 2.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
