import { AwsError } from './errors';

/**
 * How deeply JSON the local cloud accepts may nest (objects and arrays). JSON.parse itself
 * copes with any depth, but everything that walks a parsed value afterwards (request schemas,
 * the Step Functions runner, pattern matchers, JSON.stringify) recurses, and a deep enough value
 * would end in "Maximum call stack size exceeded". AWS's services refuse such input as well
 * (their JSON parsers cap nesting at 1,000 levels, Jackson's default), so the bound is the same.
 */
export const MAX_JSON_DEPTH = 1000;

/**
 * The nesting depth of JSON text, counted without parsing (brackets outside strings), stopping
 * as soon as it passes `max`: a cheap check to run before JSON.parse. Text that is not JSON
 * gets some number; parsing it reports the real problem.
 */
export function jsonDepth(text: string, max: number = MAX_JSON_DEPTH): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > max) return deepest;
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return deepest;
}

/**
 * Throws AWS's ValidationException when `text` (the member `field` of a request, or the request
 * body itself) nests deeper than MAX_JSON_DEPTH.
 */
export function assertJsonDepth(text: string, field: string): void {
  if (jsonDepth(text) > MAX_JSON_DEPTH) {
    throw new AwsError(
      'ValidationException',
      `1 validation error detected: Value at '${field}' failed to satisfy constraint: Member must be JSON nested at most ${MAX_JSON_DEPTH} levels deep`,
    );
  }
}
