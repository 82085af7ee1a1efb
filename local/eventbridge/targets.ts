import { createHash } from 'node:crypto';
import { AwsError } from '../http/errors';

/** `$.detail.x` (dots and [n]) against an event; undefined when a step is missing. */
export function readPath(value: unknown, path: string): unknown {
  if (path === '$') return value;
  if (!path.startsWith('$.')) throw new AwsError('ValidationException', `Invalid InputPath ${path}`);
  let cur: unknown = value;
  for (const part of path.slice(2).split(/\.|(?=\[)/)) {
    if (cur === null || cur === undefined) return undefined;
    const idx = /^\[(\d+)\]$/.exec(part);
    cur = idx ? (cur as unknown[])[Number(idx[1])] : (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** What InputTransformer's predefined variables need to know about the rule. */
export interface RuleContext {
  name: string;
  arn: string;
}

/**
 * EventBridge's InputTransformer. `<name>` becomes the value at its path in the event. In a JSON
 * template a value goes in as JSON, except inside a JSON string (`"id: <name>"`), where it goes
 * in as text; a template that is not JSON (`<id> is in state <state>`) gets plain text. A path
 * that matches nothing gives nothing (`null` where a JSON value is needed). Predefined:
 * `aws.events.rule-name`, `aws.events.rule-arn`, `aws.events.event` (the event without its
 * detail), `aws.events.event.json` (the whole event), `aws.events.event.ingestion-time`.
 */
/** The variables every InputTemplate may use without declaring them in InputPathsMap. */
export const PREDEFINED_VARIABLES = [
  'aws.events.rule-name',
  'aws.events.rule-arn',
  'aws.events.event',
  'aws.events.event.json',
  'aws.events.event.ingestion-time',
] as const;

/** The placeholders of a template that neither InputPathsMap nor EventBridge defines. */
export function undefinedPlaceholders(t: {
  InputPathsMap?: Record<string, string> | undefined;
  InputTemplate: string;
}): string[] {
  const known = new Set<string>([...PREDEFINED_VARIABLES, ...Object.keys(t.InputPathsMap ?? {})]);
  return [...t.InputTemplate.matchAll(/<([A-Za-z0-9_.-]+)>/g)]
    .map((m) => m[1] ?? '')
    .filter((k) => !known.has(k));
}

export function transformInput(
  event: unknown,
  t: { InputPathsMap?: Record<string, string> | undefined; InputTemplate: string },
  rule: RuleContext = { name: '', arn: '' },
  ingestedAt: Date = new Date(),
): string {
  const values = new Map<string, unknown>();
  for (const [k, p] of Object.entries(t.InputPathsMap ?? {})) {
    const v = readPath(event, p);
    if (v !== undefined) values.set(k, v);
  }
  const { detail: _detail, ...withoutDetail } = (event ?? {}) as Record<string, unknown>;
  const predefined: Record<string, unknown> = {
    'aws.events.rule-name': rule.name,
    'aws.events.rule-arn': rule.arn,
    'aws.events.event': withoutDetail,
    'aws.events.event.json': event,
    'aws.events.event.ingestion-time': ingestedAt.toISOString(),
  };
  const template = t.InputTemplate;
  const isJson = /^\s*[{["]/.test(template);
  return template.replace(/<([A-Za-z0-9_.-]+)>/g, (whole, key: string, offset: number) => {
    const declared = key in predefined || Object.hasOwn(t.InputPathsMap ?? {}, key);
    if (!declared) return whole;
    // Inside a JSON string (an odd number of unescaped quotes before it) a value goes in as text.
    const before = template.slice(0, offset).replace(/\\./g, '');
    const inString = isJson && (before.match(/"/g)?.length ?? 0) % 2 === 1;
    const v = key in predefined ? predefined[key] : values.get(key);
    if (v === undefined) return isJson && !inString ? 'null' : '';
    const text = typeof v === 'string' ? v : JSON.stringify(v);
    if (!isJson) return text;
    return inString ? JSON.stringify(text).slice(1, -1) : JSON.stringify(v);
  });
}

/**
 * The execution a rule target starts for an event: UUID-shaped (like the names EventBridge
 * gives) and derived from the event id, rule and target, so a redelivered event names the
 * execution it started the first time.
 */
export function targetExecutionName(eventId: string, rule: string, targetId: string): string {
  const h = createHash('sha256').update(`${eventId}\0${rule}\0${targetId}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
