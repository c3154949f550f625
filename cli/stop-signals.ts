/**
 * Ctrl-C / SIGTERM for a command that loops over episodes: while listening, either signal aborts
 * `signal` (its reason is the signal's name); `exitCode` is 130 / 143 after one, else undefined.
 * `dispose` stops listening (call it in a finally).
 */
export function stopSignals(): { readonly signal: AbortSignal; exitCode(): number | undefined; dispose(): void } {
  const abort = new AbortController();
  const onSignal = (name: NodeJS.Signals): void => abort.abort(name);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    signal: abort.signal,
    exitCode: () => (abort.signal.aborted ? (abort.signal.reason === 'SIGINT' ? 130 : 143) : undefined),
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
