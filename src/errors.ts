/**
 * Named errors carrying what went wrong. The CLI turns a `UsageError` into one line on stderr
 * and exit code 2; anything else is a bug and keeps its stack.
 */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A metric or engine request the model cannot answer (e.g. BatchNormalization per-example). */
export class UnsupportedError extends Error {
  override name = 'UnsupportedError';
}
