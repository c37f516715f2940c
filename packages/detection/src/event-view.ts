import type { Event, FieldValue } from "@ring3/schema";

/**
 * Field names as small integers ("slots"), shared by every compiled rule, so that an event's caches are arrays
 * indexed by slot instead of maps keyed by name. A slot keeps the spelling the rule wrote; the lookup in the
 * event is case-insensitive. Rules name a few hundred distinct fields, so the table stays small.
 */
const slotByName = new Map<string, number>();
const slotNames: string[] = [];

/** The field name a slot stands for, as the rules spell it. */
export function fieldName(slot: number): string {
  return slotNames[slot] as string;
}

export function fieldSlot(name: string): number {
  let slot = slotByName.get(name);
  if (slot === undefined) {
    slot = slotNames.length;
    slotNames.push(name);
    slotByName.set(name, slot);
  }
  return slot;
}

/**
 * One event as the compiled rules see it. Sigma field names are case-insensitive ("Field lookups are
 * case-insensitive"); dotted names reach into nested objects (`UserData.x`, JSON logs). String forms and their
 * lower-cased forms are cached per slot, because dozens of rules read the same `CommandLine`. A ruleset keeps
 * one view and points it at each event in turn (`reset`), so matching an event allocates no caches.
 */
export class EventView {
  private current: Event;
  private fields: Readonly<Record<string, FieldValue>>;
  private keyList: readonly string[] | undefined;
  /** Bit n set: the event has a key of length n (31: of length 31 or more); -1 until needed. */
  private keyLengths = -1;
  /** A cache entry is valid for this event when its stamp equals `epoch`. */
  private epoch = 1;
  private stringStamps = new Uint32Array(0);
  private stringCache: (readonly string[] | undefined)[] = [];
  private lowerStamps = new Uint32Array(0);
  private lowerCache: (readonly string[] | undefined)[] = [];
  private all: readonly string[] | undefined;
  private allLower: readonly string[] | undefined;
  /** By literal group id (see value-test.ts): 1 for the groups the prefilter has looked for in this event. */
  private groupsKnown: Uint8Array | undefined;
  /** By group id: the epoch of the last event whose values hold the group. */
  private groupMarks = new Uint32Array(0);

  constructor(event: Event) {
    this.current = event;
    this.fields = event.fields;
  }

  get event(): Event {
    return this.current;
  }

  /** Points the view at another event; everything cached for the previous one is forgotten. */
  reset(event: Event): void {
    this.current = event;
    this.fields = event.fields;
    this.keyList = undefined;
    this.keyLengths = -1;
    this.all = undefined;
    this.allLower = undefined;
    this.groupsKnown = undefined;
    this.epoch = (this.epoch + 1) >>> 0;
    if (this.epoch === 0) {
      this.stringStamps.fill(0);
      this.lowerStamps.fill(0);
      this.groupMarks.fill(0);
      this.epoch = 1;
    }
  }

  /**
   * From the ruleset's prefilter, which has looked up every value of the event: the groups it looked for
   * (undefined: none), after marking those the values hold (`markGroups`).
   */
  setGroupsKnown(known: Uint8Array | undefined): void {
    this.groupsKnown = known;
    if (known !== undefined && known.length > this.groupMarks.length) {
      const grown = new Uint32Array(Math.max(known.length, this.groupMarks.length * 2));
      grown.set(this.groupMarks);
      this.groupMarks = grown;
    }
  }

  /** Marks the groups `ids[from…to]` (ids below the length of the known groups) as held by the event's values. */
  markGroups(ids: Int32Array, from: number, to: number): void {
    const marks = this.groupMarks;
    const epoch = this.epoch;
    for (let k = from; k < to; k += 1) marks[ids[k] as number] = epoch;
  }

  /**
   * Whether some value of the group's field (for keywords: any value) holds the group: 1 or 0, or -1 when the
   * prefilter has not looked for it (the op then tests the values itself).
   */
  groupFound(id: number): number {
    const known = this.groupsKnown;
    if (known === undefined || known[id] !== 1) return -1;
    return this.groupMarks[id] === this.epoch ? 1 : 0;
  }

  private keys(): readonly string[] {
    this.keyList ??= Object.keys(this.fields);
    return this.keyList;
  }

  /** The raw value, or undefined when the event has no such field. */
  value(field: string): FieldValue | undefined {
    if (Object.hasOwn(this.fields, field)) return this.fields[field];
    // Events from ring3's own mappers already use Sigma's spelling, so a miss is nearly always a true miss:
    // only keys of the same length are compared, and most misses have none.
    if (this.keyLengths === -1) {
      let lengths = 0;
      for (const key of this.keys()) lengths |= 1 << Math.min(key.length, 31);
      this.keyLengths = lengths;
    }
    if ((this.keyLengths & (1 << Math.min(field.length, 31))) !== 0) {
      for (const key of this.keys()) {
        if (key.length === field.length && equalsIgnoringCase(key, field)) return this.fields[key];
      }
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
    return this.stringsAt(fieldSlot(field));
  }

  lowerStrings(field: string): readonly string[] | undefined {
    return this.lowerStringsAt(fieldSlot(field));
  }

  /** `strings` for a field named by its slot (see `fieldSlot`). */
  stringsAt(slot: number): readonly string[] | undefined {
    if (slot >= this.stringStamps.length) this.grow();
    if (this.stringStamps[slot] === this.epoch) return this.stringCache[slot];
    const value = this.value(slotNames[slot] as string);
    const out = value === undefined ? undefined : fieldStrings(value);
    this.stringStamps[slot] = this.epoch;
    this.stringCache[slot] = out;
    return out;
  }

  lowerStringsAt(slot: number): readonly string[] | undefined {
    if (slot >= this.lowerStamps.length) this.grow();
    if (this.lowerStamps[slot] === this.epoch) return this.lowerCache[slot];
    const strings = this.stringsAt(slot);
    let out: readonly string[] | undefined;
    if (strings !== undefined) out = strings.length === 1 ? [(strings[0] as string).toLowerCase()] : lowerAll(strings);
    this.lowerStamps[slot] = this.epoch;
    this.lowerCache[slot] = out;
    return out;
  }

  private grow(): void {
    const size = Math.max(64, slotNames.length * 2);
    const strings = new Uint32Array(size);
    strings.set(this.stringStamps);
    this.stringStamps = strings;
    const lower = new Uint32Array(size);
    lower.set(this.lowerStamps);
    this.lowerStamps = lower;
  }

  /** Every string value of the event, for keyword searches (spec: "searching for keywords across an entire event"). */
  allStrings(): readonly string[] {
    if (this.all !== undefined) return this.all;
    const out: string[] = [];
    for (const key of this.keys()) {
      const value = this.fields[key] as FieldValue;
      if (typeof value === "string") out.push(value);
      else if (value !== null) for (const s of fieldStrings(value)) out.push(s);
    }
    this.all = out;
    return out;
  }

  allLowerStrings(): readonly string[] {
    this.allLower ??= lowerAll(this.allStrings());
    return this.allLower;
  }
}

function lowerAll(strings: readonly string[]): string[] {
  const out = new Array<string>(strings.length);
  for (let i = 0; i < strings.length; i += 1) out[i] = (strings[i] as string).toLowerCase();
  return out;
}

/** `a.toLowerCase() === b.toLowerCase()` for strings of equal length, without allocating for ASCII. */
export function equalsIgnoringCase(a: string, b: string): boolean {
  for (let i = 0; i < a.length; i += 1) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 128 || y >= 128) return a.toLowerCase() === b.toLowerCase();
    if (x >= 65 && x <= 90) x |= 32;
    if (y >= 65 && y <= 90) y |= 32;
    if (x !== y) return false;
  }
  return true;
}

/** A value's strings, as `EventView.strings` gives them. */
export function fieldStrings(value: FieldValue): string[] {
  if (value === null) return [];
  if (typeof value === "string") return [value];
  if (typeof value === "number" || typeof value === "boolean") return [String(value)];
  if (Array.isArray(value)) return (value as readonly FieldValue[]).flatMap(fieldStrings);
  return [JSON.stringify(value)];
}
