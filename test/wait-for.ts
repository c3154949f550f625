/** Polls `check` every `everyMs` until it holds; throws "timed out waiting for <what>" after `ms`. */
export async function waitFor(what: string, check: () => boolean, ms: number, everyMs = 10): Promise<void> {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
