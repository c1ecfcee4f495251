/**
 * @module Errors that are the user's to fix: a bad handler, a bad flag, an oversized bundle.
 * The CLI prints a UserError's message alone (no stack) and exits 1; any other error is a bug
 * and keeps its stack and cause.
 */

export class UserError extends Error {
  override name = "UserError";

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

export function isUserError(err: unknown): err is UserError {
  return err instanceof UserError;
}
