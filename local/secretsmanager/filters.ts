import type { Filter, Tag } from '@aws-sdk/client-secrets-manager';

/** What ListSecrets filters look at. */
export interface Searchable {
  name: string;
  description: string | undefined;
  tags: readonly Tag[];
  owningService: string | undefined;
  primaryRegion: string;
}

/**
 * The words of a search string as the console's free-text search splits them: on punctuation
 * and spaces, on a lower-to-upper case change and between letters and digits, lower-cased.
 */
export function searchWords(s: string): string[] {
  return s
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .replace(/([A-Za-z])(\d)/g, '$1 $2')
    .replace(/(\d)([A-Za-z])/g, '$1 $2')
    .split(/[^A-Za-z0-9]+/)
    .filter((w) => w.length > 0)
    .map((w) => w.toLowerCase());
}

/**
 * `description`: the API reference says "Prefix match, not case-sensitive", but AWS, recorded,
 * matches more: it breaks the value into words, as `all` does, and each word must begin some word
 * of the description, in any order. "a secret" finds "a secret" and "an secret" but not
 * "asecret"; "a" finds all three and not "thesecret" (ListSecrets filtering as recorded on AWS).
 */
function descriptionMatches(description: string, value: string): boolean {
  const wanted = searchWords(value);
  const have = searchWords(description);
  return wanted.length > 0 && wanted.every((w) => have.some((h) => h.startsWith(w)));
}

function test(key: string, value: string, s: Searchable): boolean {
  switch (key) {
    case 'name':
      return s.name.startsWith(value);
    case 'description':
      return descriptionMatches(s.description ?? '', value);
    case 'tag-key':
      return s.tags.some((t) => (t.Key ?? '').startsWith(value));
    case 'tag-value':
      return s.tags.some((t) => (t.Value ?? '').startsWith(value));
    case 'owning-service':
      return (s.owningService ?? '').startsWith(value);
    case 'primary-region':
      return s.primaryRegion.startsWith(value);
    case 'all': {
      const wanted = searchWords(value);
      const have = [
        s.name,
        s.description ?? '',
        ...s.tags.flatMap((t) => [t.Key ?? '', t.Value ?? '']),
      ].flatMap(searchWords);
      return wanted.some((w) => have.some((h) => h.startsWith(w)));
    }
    default:
      return false;
  }
}

/**
 * ListSecrets' Filters: every filter must hold (AND); within one, any plain value may match
 * (OR) and no `!`-negated value may match. Prefix matches; `description` and `all` ignore case.
 */
export function matchesFilters(filters: readonly Filter[], s: Searchable): boolean {
  return filters.every((f) => {
    const values = f.Values ?? [];
    const negated = values.filter((v) => v.startsWith('!')).map((v) => v.slice(1));
    const plain = values.filter((v) => !v.startsWith('!'));
    if (negated.some((v) => test(f.Key ?? '', v, s))) return false;
    return plain.length === 0 || plain.some((v) => test(f.Key ?? '', v, s));
  });
}
