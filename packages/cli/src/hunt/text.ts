/**
 * Event fields are written by whoever controls the logged machine: a command line can carry newlines or terminal
 * escape sequences. Human output folds every run of whitespace and control characters into one space, so one
 * detection stays one line and an event cannot drive the analyst's terminal.
 */
export function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\s\u0000-\u001f\u007f-\u009f]+/g, " ").trim();
}

/** At most `max` characters, the cut marked with an ellipsis. */
export function shorten(text: string, max: number): string {
  const flat = oneLine(text);
  return flat.length <= max ? flat : `${flat.slice(0, Math.max(0, max - 1))}…`;
}

/** An ISO time as `2019-03-19 12:34:56` UTC; text that is not a time is left as it is. */
export function shortTime(time: string): string {
  const ms = Date.parse(time);
  return Number.isNaN(ms) ? oneLine(time) : new Date(ms).toISOString().slice(0, 19).replace("T", " ");
}

/** Code-unit order, not the locale's: output sorts the same on every machine. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
