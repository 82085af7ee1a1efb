/**
 * Polls `probe` until it returns true or `timeoutMs` passes; then throws with `what`. For a
 * test that waits on something asynchronous it has no event for: a deadline, never a fixed
 * sleep, decides pass or fail.
 */
export async function eventually(
  what: string,
  probe: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  everyMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
