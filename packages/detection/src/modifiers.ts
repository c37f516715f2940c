/**
 * Every value modifier of Sigma 2.1 (sigma-appendix-modifiers.md), registered once. The field compiler looks
 * modifiers up here; a test checks that every modifier the specification names is registered.
 *
 * Roles:
 * - `transform` rewrites each value (possibly into several alternatives) and is applied in the written order;
 * - `type` changes how values are compared (at most one per field);
 * - `flag` adjusts the comparison (`all`, `cased`) or a regular expression (`i`, `m`, `s`, only after `re`).
 */
export const MODIFIER_ROLES = ["transform", "type", "flag"] as const;
export type ModifierRole = (typeof MODIFIER_ROLES)[number];

export type ModifierDefinition = {
  readonly name: string;
  readonly role: ModifierRole;
  /** One line, for `ring3 rules` output and docs. */
  readonly summary: string;
};

const definitions: readonly ModifierDefinition[] = [
  { name: "contains", role: "transform", summary: "the value may appear anywhere in the field (wraps it in *)" },
  { name: "startswith", role: "transform", summary: "the field begins with the value" },
  { name: "endswith", role: "transform", summary: "the field ends with the value" },
  { name: "all", role: "flag", summary: "every value of the list must match (AND instead of OR)" },
  { name: "exists", role: "type", summary: "the field is present (true) or absent (false)" },
  { name: "cased", role: "flag", summary: "compare case-sensitively" },
  { name: "neq", role: "flag", summary: "the field differs from every value" },
  { name: "windash", role: "transform", summary: "command-line flags may start with - / – — or ―" },
  { name: "re", role: "type", summary: "the value is a regular expression (RE2 semantics, linear time)" },
  { name: "i", role: "flag", summary: "re: case-insensitive" },
  { name: "m", role: "flag", summary: "re: ^ and $ match at line breaks" },
  { name: "s", role: "flag", summary: "re: . also matches a line break" },
  { name: "base64", role: "transform", summary: "the value appears base64-encoded" },
  { name: "base64offset", role: "transform", summary: "the value appears inside a longer base64 string (3 shifts)" },
  { name: "utf16le", role: "transform", summary: "encode the value as UTF-16LE bytes" },
  { name: "utf16be", role: "transform", summary: "encode the value as UTF-16BE bytes" },
  { name: "utf16", role: "transform", summary: "encode the value as UTF-16LE with a byte order mark" },
  { name: "wide", role: "transform", summary: "alias of utf16le" },
  { name: "lt", role: "type", summary: "the field is a number less than the value" },
  { name: "lte", role: "type", summary: "the field is a number less than or equal to the value" },
  { name: "gt", role: "type", summary: "the field is a number greater than the value" },
  { name: "gte", role: "type", summary: "the field is a number greater than or equal to the value" },
  { name: "minute", role: "type", summary: "the minute (0–59) of the field's date" },
  { name: "hour", role: "type", summary: "the hour (0–23) of the field's date" },
  { name: "day", role: "type", summary: "the day of month (1–31) of the field's date" },
  { name: "week", role: "type", summary: "the ISO week (1–53) of the field's date" },
  { name: "month", role: "type", summary: "the month (1–12) of the field's date" },
  { name: "year", role: "type", summary: "the year of the field's date" },
  { name: "cidr", role: "type", summary: "the field is an IPv4/IPv6 address inside the network" },
  { name: "expand", role: "transform", summary: "replace %placeholders% with configured values" },
  { name: "fieldref", role: "type", summary: "the value names another field of the same event to compare with" },
];

export const MODIFIERS: ReadonlyMap<string, ModifierDefinition> = new Map(definitions.map((d) => [d.name, d]));

export const COMPARISON_MODIFIERS = ["lt", "lte", "gt", "gte"] as const;
export type ComparisonModifier = (typeof COMPARISON_MODIFIERS)[number];

export const TIME_PART_MODIFIERS = ["minute", "hour", "day", "week", "month", "year"] as const;
export type TimePartModifier = (typeof TIME_PART_MODIFIERS)[number];

export const REGEX_FLAG_MODIFIERS = ["i", "m", "s"] as const;
