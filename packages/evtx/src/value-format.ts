import type { EvtxValue } from "./xml-model.ts";

/** JSON values as evtx_dump emits them; integers past 2^53 stay exact as bigint (see `stringifyEvent`). */
export type EvtxJsonValue = null | boolean | number | bigint | string | readonly EvtxJsonValue[] | EvtxJsonObject;
export type EvtxJsonObject = { readonly [key: string]: EvtxJsonValue };

/** Shortest decimal that reads back as the same float32 (JavaScript only has that for float64 built in). */
function shortestSingle(value: number): string {
  for (let digits = 1; digits < 9; digits++) {
    const candidate = Number(value.toPrecision(digits));
    if (Math.fround(candidate) === value) return String(candidate);
  }
  return String(value);
}

/** Floats in Rust's shortest round-trip style: "1.0" for integral values, "1e21" where JavaScript writes "1e+21". */
function formatReal(value: number, single: boolean): string {
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
  const s = single ? shortestSingle(value) : String(value);
  if (s.includes("e")) return s.replace("e+", "e");
  return s.includes(".") ? s : `${s}.0`;
}

/** The text of a value inside XML, or inside a JSON string mixing several nodes; arrays are comma-separated. */
export function valueText(value: EvtxValue): string {
  switch (value.type) {
    case "null":
      return "";
    case "string":
    case "text":
      return value.value;
    case "int":
      return value.value.toString();
    case "real":
      return formatReal(value.value, value.single);
    case "bool":
      return value.value ? "true" : "false";
    case "array":
      return value.items.map(valueText).join(",");
  }
}

/** A value standing alone as an element's or attribute's content: numbers and booleans keep their JSON type. */
export function valueJson(value: EvtxValue): EvtxJsonValue {
  switch (value.type) {
    case "null":
      return null;
    case "string":
    case "text":
      return value.value;
    case "int":
    case "bool":
      return value.value;
    case "real":
      // JSON has no NaN or infinity; serde_json writes null for them.
      return Number.isFinite(value.value) ? value.value : null;
    case "array":
      return value.items.map(valueJson);
  }
}

/** Whether a value counts as content: null, "" and empty arrays do not (an optional substitution left unset). */
export function valueIsEmpty(value: EvtxValue): boolean {
  switch (value.type) {
    case "null":
      return true;
    case "string":
    case "text":
      return value.value === "";
    case "array":
      return value.items.length === 0;
    default:
      return false;
  }
}
