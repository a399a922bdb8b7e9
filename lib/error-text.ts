/**
 * An error as one line for a log or the CLI: `CODE: message`. Coded errors
 * (JournalError, ProjectionError) already start their message with the
 * code; it is not said twice.
 */
export function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  const prefix = typeof code === 'string' && !error.message.startsWith(code) ? `${code}: ` : '';
  return `${prefix}${error.message}`;
}
