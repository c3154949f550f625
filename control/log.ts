/** Longest piece of untrusted input echoed into a log line or an error reply. */
export const MAX_ECHO_CHARS = 200;

/** Cuts `text` (e.g. a peer's bad message) to `max` characters, saying how much was left out. */
export function truncateEcho(text: string, max = MAX_ECHO_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

/**
 * A log that writes at most `perSecond` lines a second; the rest are counted and reported in
 * one line when logging resumes, so a flood of bad input cannot flood the log (288k bad
 * messages once made 106 MB of stderr).
 */
export function rateLimitedLog(log: (line: string) => void, perSecond = 20): (line: string) => void {
  let windowStart = -Infinity;
  let written = 0;
  let suppressed = 0;
  return (line) => {
    const now = performance.now();
    if (now - windowStart >= 1000) {
      if (suppressed) log(`(${suppressed} similar log lines suppressed)`);
      windowStart = now;
      written = 0;
      suppressed = 0;
    }
    if (written < perSecond) {
      written++;
      log(truncateEcho(line, 500));
    } else suppressed++;
  };
}
