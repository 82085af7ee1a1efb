/**
 * The query protocol's XML, rendered from plain objects: keys become elements, an array repeats
 * its key's element (`{ Tag: [a, b] }` -> `<Tag>a</Tag><Tag>b</Tag>`), Dates become ISO 8601,
 * `undefined` and `null` are left out.
 */
export function escapeXml(s: string): string {
  return s.replace(
    /[<>&'"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!,
  );
}

export function renderXml(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (value instanceof Date) return value.toISOString();
  if (typeof value !== 'object') return escapeXml(String(value));
  let out = '';
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    if (v === undefined || v === null) continue;
    for (const item of Array.isArray(v) ? v : [v]) {
      if (item === undefined || item === null) continue;
      out += `<${key}>${renderXml(item)}</${key}>`;
    }
  }
  return out;
}

export function queryResponseXml(
  action: string,
  xmlNamespace: string,
  result: unknown,
  requestId: string,
): string {
  const body =
    result === undefined || result === null ? '' : `<${action}Result>${renderXml(result)}</${action}Result>`;
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${escapeXml(xmlNamespace)}">${body}` +
    `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`
  );
}

export function queryErrorXml(fault: string, code: string, message: string, requestId: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse><Error><Type>${fault}</Type><Code>${escapeXml(code)}</Code>` +
    `<Message>${escapeXml(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`
  );
}

/**
 * Reads a query-protocol list (`Tags.member.1.Key=a&Tags.member.1.Value=b`) as records keyed by
 * the member's remaining path (`[{ Key: 'a', Value: 'b' }]`); scalar members come back as `''` keys.
 */
export function queryList(
  params: Readonly<Record<string, string>>,
  prefix: string,
): Record<string, string>[] {
  const items = new Map<number, Record<string, string>>();
  const lead = `${prefix}.`;
  for (const [k, v] of Object.entries(params)) {
    if (!k.startsWith(lead)) continue;
    const rest = k.slice(lead.length);
    const dot = rest.indexOf('.');
    const index = Number(dot === -1 ? rest : rest.slice(0, dot));
    if (!Number.isInteger(index)) continue;
    const item = items.get(index) ?? {};
    item[dot === -1 ? '' : rest.slice(dot + 1)] = v;
    items.set(index, item);
  }
  return [...items.entries()].sort(([a], [b]) => a - b).map(([, item]) => item);
}
