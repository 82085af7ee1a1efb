import { jsonDepth, MAX_JSON_DEPTH } from '../../../../local/http/json-depth';

describe('jsonDepth', () => {
  it('counts objects and arrays, not brackets inside strings or escaped quotes', () => {
    expect(jsonDepth('1')).toBe(0);
    expect(jsonDepth('{"a":[1,{"b":[]}]}')).toBe(4);
    expect(jsonDepth('{"a":"[[[[{{{{"}')).toBe(1);
    expect(jsonDepth('{"a":"\\"[[[[","b":[]}')).toBe(2);
    expect(jsonDepth('["\\\\",[]]')).toBe(2);
  });

  it('stops counting once past the bound', () => {
    const text = '['.repeat(120_000) + ']'.repeat(120_000);
    expect(jsonDepth(text)).toBe(MAX_JSON_DEPTH + 1);
    expect(jsonDepth(text, 10)).toBe(11);
  });
});
