import type { z } from 'zod';
import { ValidationError } from './errors';

/**
 * Parses untrusted input (a Task's state, an event, a CLI flag) with a zod schema. Failures
 * become one ValidationError naming every bad field, so the ASL can Catch it by name.
 */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown, what: string): z.infer<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new ValidationError(
    `${what}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`).join('; ')}`,
  );
}
