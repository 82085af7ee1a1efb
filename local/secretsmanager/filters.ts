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
 * `description`: the value, ignoring case, is a prefix of the description from the start of any
 * of its words, so `orders` finds "Primary Orders database" as it does on AWS (ListSecrets,
 * Filter Key description: "Prefix match, not case-sensitive", applied word by word).
 */
function descriptionMatches(description: string, value: string): boolean {
  const text = description.toLowerCase();
  const wanted = value.toLowerCase();
  for (let i = 0; i < text.length; i++) {
    const wordStart = i === 0 || !/[a-z0-9]/.test(text[i - 1] ?? '');
    if (wordStart && text.startsWith(wanted, i)) return true;
  }
  return wanted.length === 0;
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
