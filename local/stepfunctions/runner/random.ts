/**
 * What the intrinsic functions and Step Functions' own JSONata functions share: the hash
 * algorithms AWS names (States.Hash, $hash) and the seeded generator behind a seeded
 * States.MathRandom / $random, which must repeat its number for the same seed.
 */

/** AWS's algorithm names -> node:crypto's. */
export const HASH_ALGORITHMS: Readonly<Record<string, string>> = {
  MD5: 'md5',
  'SHA-1': 'sha1',
  'SHA-256': 'sha256',
  'SHA-384': 'sha384',
  'SHA-512': 'sha512',
};

/** mulberry32: a small, fast, seedable generator; values in [0, 1). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
