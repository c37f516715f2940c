import type { EvtxRecord } from "./evtx-record.ts";
import { valueText } from "./value-format.ts";
import { hasContent, hasElementChild } from "./xml-content.ts";
import type { XmlElement, XmlNode } from "./xml-model.ts";

const DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n';
const INDENT = 2;

function escapeXml(text: string, inAttribute: boolean): string {
  let out = text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
  if (inAttribute) out = out.replaceAll('"', "&quot;").replaceAll("'", "&apos;");
  return out;
}

function nodeXml(node: XmlNode, inAttribute: boolean): string {
  switch (node.kind) {
    case "text":
      return escapeXml(node.text, inAttribute);
    case "value":
      return escapeXml(valueText(node.value), inAttribute);
    case "cdata":
      return inAttribute ? escapeXml(node.text, true) : `<![CDATA[${node.text}]]>`;
    case "charref":
      return `&#${node.code};`;
    case "entityref":
      return `&${node.name};`;
    case "pi":
      return inAttribute ? "" : `<?${node.target}${node.data === "" ? "" : ` ${node.data}`}?>`;
    case "element":
      return "";
  }
}

/**
 * Layout of evtx_dump's XML: two-space indentation; an element with only text on one line; an empty element as an
 * open tag and a close tag on the next line (except `<Binary>`, which evtx_dump keeps on one line); attributes without
 * a value left out.
 */
function renderElement(element: XmlElement, indent: number, out: string[]): void {
  const pad = " ".repeat(indent);
  let open = `${pad}<${element.name}`;
  for (const attribute of element.attributes) {
    if (!hasContent(attribute.value)) continue;
    open += ` ${attribute.name}="${attribute.value.map((node) => nodeXml(node, true)).join("")}"`;
  }
  out.push(`${open}>`);
  const close = `</${element.name}>\n`;
  const elementChild = hasElementChild(element);
  if (!elementChild && !hasContent(element.children)) {
    out.push(element.name === "Binary" ? close : `\n${pad}${close}`);
    return;
  }
  if (!elementChild) {
    out.push(element.children.map((node) => nodeXml(node, false)).join(""), close);
    return;
  }
  out.push("\n");
  for (const node of element.children) {
    if (node.kind === "element") renderElement(node, indent + INDENT, out);
    else if (node.kind === "pi" || hasContent([node])) out.push(`${pad}  ${nodeXml(node, false)}\n`);
  }
  out.push(`${pad}${close}`);
}

/** Renders the parsed tree of a record (read with `keepTree: true`) as `evtx_dump -o xml` does. */
export function renderRecordXml(record: Pick<EvtxRecord, "tree"> & { readonly tree: readonly XmlNode[] }): string {
  const out: string[] = [DECLARATION];
  for (const node of record.tree) if (node.kind === "element") renderElement(node, 0, out);
  return out.join("");
}
