/**
 * The decoded form of a record's binary XML: an element tree whose leaves keep the type of the substitution values
 * they came from (a uint16 EventID stays a number in JSON, a SID renders as "S-1-5-18"). Plain objects only, so a
 * tree crosses a worker_threads boundary by structured clone.
 */

/**
 * A decoded value. `text` covers the types whose only rendering is a string (GUID, FILETIME, SYSTEMTIME, SID, hex
 * integers, size_t, binary); integers beyond 2^53 stay exact as bigint.
 */
export type EvtxValue =
  | { readonly type: "null" }
  | { readonly type: "string"; readonly value: string }
  | { readonly type: "int"; readonly value: number | bigint }
  | { readonly type: "real"; readonly value: number; readonly single: boolean }
  | { readonly type: "bool"; readonly value: boolean }
  | { readonly type: "text"; readonly value: string }
  | { readonly type: "array"; readonly items: readonly EvtxValue[] };

export type XmlAttribute = { readonly name: string; readonly value: readonly XmlNode[] };

export type XmlElement = {
  readonly kind: "element";
  readonly name: string;
  readonly attributes: readonly XmlAttribute[];
  readonly children: readonly XmlNode[];
};

export type XmlNode =
  | XmlElement
  /** Character data written literally in the binary XML (value token). */
  | { readonly kind: "text"; readonly text: string }
  /** A substitution value. */
  | { readonly kind: "value"; readonly value: EvtxValue }
  | { readonly kind: "cdata"; readonly text: string }
  | { readonly kind: "charref"; readonly code: number }
  | { readonly kind: "entityref"; readonly name: string }
  | { readonly kind: "pi"; readonly target: string; readonly data: string };
