import { valueIsEmpty } from "./value-format.ts";
import type { XmlElement, XmlNode } from "./xml-model.ts";

/**
 * Whether nodes hold anything a reader would see. Null values, empty strings and empty arrays do not: they are what
 * an unset optional substitution leaves, and both renderers drop attributes and text made only of them.
 */
export function hasContent(nodes: readonly XmlNode[]): boolean {
  for (const node of nodes) {
    switch (node.kind) {
      case "text":
      case "cdata":
        if (node.text !== "") return true;
        break;
      case "value":
        if (!valueIsEmpty(node.value)) return true;
        break;
      case "charref":
      case "entityref":
        return true;
      default:
        break;
    }
  }
  return false;
}

export function hasElementChild(element: XmlElement): boolean {
  return element.children.some((node) => node.kind === "element");
}
