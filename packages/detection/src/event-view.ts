import type { Event, FieldValue } from "@ring3/schema";

/**
 * One event as the compiled rules see it. Sigma field names are case-insensitive ("Field lookups are
 * case-insensitive"), so a name that is not found as written is looked up through a lower-cased index built
 * at most once per event; dotted names reach into nested objects (`UserData.x`, JSON logs). String forms and
 * their lower-cased forms are cached, because dozens of rules read the same `CommandLine`.
 */
export class EventView {
  readonly event: Event;
  private readonly fields: Readonly<Record<string, FieldValue>>;
  private readonly stringCache = new Map<string, readonly string[] | null>();
  private readonly lowerCache = new Map<string, readonly string[] | null>();

  constructor(event: Event) {
    this.event = event;
    this.fields = event.fields;
  }

  /** The raw value, or undefined when the event has no such field. */
  value(field: string): FieldValue | undefined {
    if (Object.hasOwn(this.fields, field)) return this.fields[field];
    // Events from ring3's own mappers already use Sigma's spelling, so a miss is nearly always a true miss:
    // compare only keys of the same length instead of building a lower-cased index of every key.
    let lower: string | undefined;
    for (const key in this.fields) {
      if (key.length !== field.length) continue;
      lower ??= field.toLowerCase();
      if (key.toLowerCase() === lower && Object.hasOwn(this.fields, key)) return this.fields[key];
    }
    return field.includes(".") ? this.nested(field) : undefined;
  }

  private nested(path: string): FieldValue | undefined {
    let current: FieldValue | undefined = this.fields;
    for (const segment of path.split(".")) {
      if (current === null || typeof current !== "object" || Array.isArray(current)) return undefined;
      const record = current as Readonly<Record<string, FieldValue>>;
      const exact = Object.hasOwn(record, segment) ? record[segment] : undefined;
      if (exact !== undefined) {
        current = exact;
        continue;
      }
      const lower = segment.toLowerCase();
      const key = Object.keys(record).find((k) => k.toLowerCase() === lower);
      if (key === undefined) return undefined;
      current = record[key];
    }
    return current;
  }

  /**
   * The field's values as strings: undefined when absent, [] when null, several for a list. Numbers and
   * booleans compare in their usual spelling (`EventID: 4688` matches 4688 and "4688").
   */
  strings(field: string): readonly string[] | undefined {
    const cached = this.stringCache.get(field);
    if (cached !== undefined) return cached ?? undefined;
    const value = this.value(field);
    const out = value === undefined ? undefined : stringsOf(value);
    this.stringCache.set(field, out ?? null);
    return out;
  }

  lowerStrings(field: string): readonly string[] | undefined {
    const cached = this.lowerCache.get(field);
    if (cached !== undefined) return cached ?? undefined;
    const out = this.strings(field)?.map((s) => s.toLowerCase());
    this.lowerCache.set(field, out ?? null);
    return out;
  }

  /** Every string value of the event, for keyword searches (spec: "searching for keywords across an entire event"). */
  allStrings(): readonly string[] {
    const cached = this.stringCache.get("\u0000all");
    if (cached != null) return cached;
    const out: string[] = [];
    for (const value of Object.values(this.fields)) out.push(...stringsOf(value));
    this.stringCache.set("\u0000all", out);
    return out;
  }

  allLowerStrings(): readonly string[] {
    const cached = this.lowerCache.get("\u0000all");
    if (cached != null) return cached;
    const out = this.allStrings().map((s) => s.toLowerCase());
    this.lowerCache.set("\u0000all", out);
    return out;
  }
}

function stringsOf(value: FieldValue): string[] {
  if (value === null) return [];
  if (typeof value === "string") return [value];
  if (typeof value === "number" || typeof value === "boolean") return [String(value)];
  if (Array.isArray(value)) return (value as readonly FieldValue[]).flatMap(stringsOf);
  return [JSON.stringify(value)];
}
