/**
 * The emulator's own errors. The local cloud imitates AWS, which knows nothing of credflow, so
 * its errors do not derive from the workflow's `CredflowError`: a Task's Retry/Catch must never
 * match an emulator failure by accident, and nothing under the emulated services imports `src/`.
 * Every subclass sets a literal `name`, as the workflow's errors do.
 */
export class LocalCloudError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'LocalCloudError';
  }
}
