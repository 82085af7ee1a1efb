import type { z } from 'zod';
import { ValidationError } from './errors';

/** One line naming every bad field of a failed parse: `path: message; path: message`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}

/**
 * Parses untrusted input (a Task's state, an event, a CLI flag) with a zod schema. Failures
 * become one ValidationError naming every bad field, so the ASL can Catch it by name.
 */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown, what: string): z.infer<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new ValidationError(`${what}: ${describeIssues(parsed.error)}`);
}

/** `parseWith` as a function of the input alone: what a handler hands `taskHandler`. */
export function parser<S extends z.ZodType>(schema: S, what: string): (input: unknown) => z.infer<S> {
  return (input) => parseWith(schema, input, what);
}
