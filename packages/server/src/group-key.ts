/**
 * How repeats of an alert group into one: the same rule on the same host for the same process image (or,
 * for a correlation, the same group-by values). Case-folded: Windows paths differ in case between events.
 */
export function alertGroupKey(ruleId: string, hostId: string, subject: string): string {
  return `${ruleId}|${hostId}|${subject.toLowerCase()}`;
}

/** The process image an event is about (Sigma's `Image`), or "" for events without one. */
export function eventImage(fields: Readonly<Record<string, unknown>> | undefined): string {
  const image = fields?.["Image"];
  return typeof image === "string" ? image : "";
}
