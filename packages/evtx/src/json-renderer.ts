import { valueJson, valueText } from "./value-format.ts";
import type { EvtxJsonObject, EvtxJsonValue } from "./value-format.ts";
import { hasContent, hasElementChild } from "./xml-content.ts";
import type { XmlElement, XmlNode } from "./xml-model.ts";

/**
 * The element tree of a record rendered the way `evtx_dump -o json` renders it:
 * - `<Task>12288</Task>` becomes `"Task": 12288`: an element with only content is that content, typed when it is a
 *   single integer, boolean, float or array substitution, otherwise the concatenated text;
 * - an element with nothing in it (no text, no child, no attribute with a value) is `null`;
 * - otherwise an object: `"#attributes"` (attributes with a value only), `"#text"`, then one key per child element,
 *   repeated names suffixed `_1`, `_2`... (first occurrence unsuffixed);
 * - under `EventData` / `UserData`, `<Data Name="X">v</Data>` becomes `"X": v` (an empty Data is `""`), and Data
 *   without names become `"Data": {"#text": v}` or, for several, `{"#text": [v1, v2, ...]}`.
 */
export function renderEventJson(nodes: readonly XmlNode[]): EvtxJsonObject {
  const root = nodes.find((node) => node.kind === "element");
  const event: Record<string, EvtxJsonValue> = {};
  if (root !== undefined) put(event, root.name, elementJson(root, false));
  return event;
}

/** Assigns without letting a key named "__proto__" (read from the file) reach the prototype setter. */
function put(object: Record<string, EvtxJsonValue>, key: string, value: EvtxJsonValue): void {
  if (key === "__proto__")
    Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
  else object[key] = value;
}

function isDataContainer(name: string): boolean {
  return name === "EventData" || name === "UserData";
}

/** Text a node contributes to a string; elements contribute nothing (they become keys of their own). */
function nodeText(node: XmlNode): string {
  switch (node.kind) {
    case "text":
    case "cdata":
      return node.text;
    case "value":
      return valueText(node.value);
    case "charref":
      return `&#${node.code};`;
    case "entityref":
      return `&${node.name};`;
    case "pi":
    case "element":
      return "";
  }
}

function concatText(nodes: readonly XmlNode[]): string {
  let s = "";
  for (const node of nodes) s += nodeText(node);
  return s;
}

function typedJson(node: XmlNode | undefined): EvtxJsonValue | undefined {
  if (node?.kind !== "value") return undefined;
  const { value } = node;
  return value.type === "int" || value.type === "bool" || value.type === "real" || value.type === "array"
    ? valueJson(value)
    : undefined;
}

/** Content standing alone: a single typed value keeps its type, anything else is the text. */
function contentJson(nodes: readonly XmlNode[]): EvtxJsonValue {
  return (nodes.length === 1 ? typedJson(nodes[0]) : undefined) ?? concatText(nodes);
}

/** `#text` of an element that also has child elements or attributes: the non-element nodes. */
function mixedTextJson(nodes: readonly XmlNode[]): EvtxJsonValue {
  const content = nodes.filter((node) => node.kind !== "element" && hasContent([node]));
  return (content.length === 1 ? typedJson(content[0]) : undefined) ?? concatText(nodes);
}

function elementJson(element: XmlElement, dataContainer: boolean): EvtxJsonValue {
  const text = hasContent(element.children);
  const attributeText = element.attributes.some((attribute) => hasContent(attribute.value));
  const elementChild = hasElementChild(element);
  if (!elementChild && !text && !attributeText) return null;
  if (!elementChild && !attributeText) return contentJson(element.children);
  return bodyJson(element, dataContainer);
}

function dataJson(element: XmlElement): EvtxJsonValue {
  if (hasElementChild(element)) return bodyJson(element, false);
  return hasContent(element.children) ? contentJson(element.children) : "";
}

function nameOf(element: XmlElement): string | undefined {
  const name = element.attributes.find((attribute) => attribute.name === "Name");
  return name !== undefined && hasContent(name.value) ? concatText(name.value) : undefined;
}

function bodyJson(element: XmlElement, dataContainer: boolean): EvtxJsonObject {
  const body: Record<string, EvtxJsonValue> = {};
  const attributes: Record<string, EvtxJsonValue> = {};
  let anyAttribute = false;
  for (const attribute of element.attributes) {
    if (!hasContent(attribute.value)) continue;
    put(attributes, attribute.name, contentJson(attribute.value));
    anyAttribute = true;
  }
  if (anyAttribute) body["#attributes"] = attributes;
  if (hasContent(element.children)) body["#text"] = mixedTextJson(element.children);

  const children = element.children.filter((node): node is XmlElement => node.kind === "element");
  const data = dataContainer ? children.filter((child) => child.name === "Data") : [];
  // Name-keyed flattening applies as soon as one Data carries a Name; unnamed Data are then dropped.
  const named = data.some((child) => nameOf(child) !== undefined);
  const seen = new Map<string, number>();
  let positionalDone = false;
  for (const child of children) {
    if (dataContainer && child.name === "Data") {
      if (named) {
        const key = nameOf(child);
        if (key !== undefined) put(body, key, dataJson(child));
      } else if (!positionalDone) {
        positionalDone = true;
        body["Data"] = { "#text": data.length === 1 ? dataJson(child) : data.map(dataJson) };
      }
      continue;
    }
    const count = seen.get(child.name) ?? 0;
    seen.set(child.name, count + 1);
    put(body, count === 0 ? child.name : `${child.name}_${count}`, elementJson(child, isDataContainer(child.name)));
  }
  return body;
}

/** One JSON line for an event; unlike JSON.stringify it writes bigint integers as exact JSON numbers. */
export function stringifyEvent(value: EvtxJsonValue): string {
  if (typeof value === "bigint") return value.toString();
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(stringifyEvent).join(",")}]`;
  const parts: string[] = [];
  for (const [key, item] of Object.entries(value as EvtxJsonObject)) {
    parts.push(`${JSON.stringify(key)}:${stringifyEvent(item)}`);
  }
  return `{${parts.join(",")}}`;
}
