/**
 * A test that runs only where the machine allows it. Where it cannot run, it is registered as
 * skipped with the reason in its name, and the reason is printed, so a run never passes a check
 * silently.
 */
export function itWhen(condition: boolean, reason: string): jest.It {
  if (condition) return it;
  const skipped = ((name: string, ...rest: unknown[]) => {
    console.warn(`skipped: ${name}: ${reason}`);
    return (it.skip as (n: string, ...r: unknown[]) => void)(`${name} (skipped: ${reason})`, ...rest);
  }) as unknown as jest.It;
  return skipped;
}
