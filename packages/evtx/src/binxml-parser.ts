import { ByteCursor } from "./byte-cursor.ts";
import { EvtxDiagnosticCode, EvtxFormatError } from "./diagnostics.ts";
import { decodeValue, fixedSizeOf, ValueType } from "./value-decoder.ts";
import { valueIsEmpty } from "./value-format.ts";
import type { EvtxValue, XmlAttribute, XmlElement, XmlNode } from "./xml-model.ts";

/** Binary XML tokens ([MS-EVEN6] 2.2.12, libevtx "binary XML tokens"); 0x40 on some marks "more follows". */
const Token = {
  endOfFragment: 0x00,
  openStartElement: 0x01,
  closeStartElement: 0x02,
  closeEmptyElement: 0x03,
  endElement: 0x04,
  value: 0x05,
  attribute: 0x06,
  cdata: 0x07,
  charRef: 0x08,
  entityRef: 0x09,
  piTarget: 0x0a,
  piData: 0x0b,
  templateInstance: 0x0c,
  normalSubstitution: 0x0d,
  optionalSubstitution: 0x0e,
  fragmentHeader: 0x0f,
} as const;
const MORE_FLAG = 0x40;

/** The 512-byte chunk header precedes every name and template a chunk-relative offset can legitimately point to. */
const CHUNK_HEADER_SIZE = 512;
/** A template definition: next offset (4), GUID (16), data size (4), then its binary XML fragment. */
const TEMPLATE_HEADER_SIZE = 24;

/**
 * Safety limits. Real logs nest a handful of levels; these bound what a crafted chunk can make the parser (and the
 * recursive renderers after it) do.
 */
export const BinXmlLimits = {
  /** Template instances and nested BinXml values inside one another. */
  maxNesting: 16,
  /** Elements inside one another within one fragment. */
  maxElementDepth: 128,
  /** Nodes one record may expand to: shared nested values spliced many times could otherwise grow exponentially. */
  maxNodes: 250_000,
} as const;

type Placeholder = { readonly kind: "substitution"; readonly index: number; readonly optional: boolean };

type TemplateAttribute = { readonly name: string; readonly value: readonly TemplateNode[] };

/** An element of a template definition that holds substitutions somewhere below it; the others are plain XmlElements. */
type TemplateElement = {
  readonly kind: "template-element";
  readonly name: string;
  readonly attributes: readonly TemplateAttribute[];
  readonly children: readonly TemplateNode[];
};

type TemplateNode = XmlNode | TemplateElement | Placeholder;

type SubstitutionValue =
  EvtxValue | { readonly type: "binxml"; readonly nodes: readonly XmlNode[]; readonly count: number };

type Template = { readonly nodes: readonly TemplateNode[]; readonly dataSize: number };

type OpenElement = {
  name: string;
  attributes: { name: string; value: TemplateNode[] }[];
  children: TemplateNode[];
  dynamic: boolean;
};

const PENDING = "pending";

function bad(reason: string, at: number): EvtxFormatError {
  return new EvtxFormatError(EvtxDiagnosticCode.badBinXml, reason, at);
}

function limit(reason: string, at: number): EvtxFormatError {
  return new EvtxFormatError(EvtxDiagnosticCode.limitExceeded, reason, at);
}

function isEmptyValue(value: SubstitutionValue): boolean {
  return value.type === "binxml" ? value.nodes.length === 0 : valueIsEmpty(value);
}

function countNodes(nodes: readonly XmlNode[]): number {
  let n = nodes.length;
  for (const node of nodes) {
    if (node.kind !== "element") continue;
    n += node.attributes.length + countNodes(node.children);
    for (const attribute of node.attributes) n += attribute.value.length;
  }
  return n;
}

/**
 * Decodes the binary XML of one chunk's records into element trees. Names and template definitions are addressed by
 * chunk-relative offsets, so one parser serves one chunk and caches both across the chunk's records.
 */
export class BinXmlParser {
  private readonly chunk: Uint8Array;
  private readonly view: DataView;
  private readonly names = new Map<number, { name: string; length: number }>();
  private readonly templates = new Map<number, Template | typeof PENDING>();
  private nodeBudget = 0;

  constructor(chunk: Uint8Array) {
    this.chunk = chunk;
    this.view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }

  /** The element tree of the binary XML in `chunk[start, end)` (a record's event data). */
  parseRecord(start: number, end: number): XmlNode[] {
    this.nodeBudget = BinXmlLimits.maxNodes;
    // A record holds one event: reading stops once its root element is complete. Writers leave slack after it
    // (bytes of an earlier, longer record), which is not binary XML.
    return this.parseFragment(new ByteCursor(this.chunk, start, end), 0, [], true) as XmlNode[];
  }

  /**
   * Parses tokens up to the end-of-fragment token or the end of the cursor. With `values` null this is a template
   * definition and substitutions become placeholders; otherwise they are resolved from `values` right away.
   */
  private parseFragment(
    cursor: ByteCursor,
    nesting: number,
    values: readonly SubstitutionValue[] | null,
    stopAfterRoot = false,
  ): TemplateNode[] {
    if (nesting > BinXmlLimits.maxNesting)
      throw limit(`templates and nested BinXml deeper than ${BinXmlLimits.maxNesting}`, cursor.pos);
    const root: TemplateNode[] = [];
    const stack: OpenElement[] = [];
    let attribute: { name: string; value: TemplateNode[] } | null = null;

    const append = (node: TemplateNode, dynamic: boolean): void => {
      const top = stack.at(-1);
      if (attribute !== null) attribute.value.push(node);
      else if (top !== undefined) top.children.push(node);
      else root.push(node);
      if (dynamic && top !== undefined) top.dynamic = true;
    };
    const appendAll = (nodes: readonly XmlNode[]): void => {
      for (const node of nodes) append(node, false);
    };
    const close = (at: number): void => {
      const open = stack.pop();
      if (open === undefined) throw bad("end of element without an open element", at);
      attribute = null;
      const element: XmlElement | TemplateElement = open.dynamic
        ? { kind: "template-element", name: open.name, attributes: open.attributes, children: open.children }
        : {
            kind: "element",
            name: open.name,
            attributes: open.attributes as XmlAttribute[],
            children: open.children as XmlNode[],
          };
      append(element, open.dynamic);
    };

    while (cursor.remaining > 0) {
      if (stopAfterRoot && stack.length === 0 && root.some((node) => node.kind === "element")) return root;
      const at = cursor.pos;
      const token = cursor.u8();
      switch (token & ~MORE_FLAG) {
        case Token.endOfFragment:
          if (token !== Token.endOfFragment) throw bad(`unknown token 0x${token.toString(16)}`, at);
          if (stack.length > 0) throw bad(`fragment ends inside <${stack.at(-1)!.name}>`, at);
          return root;
        case Token.fragmentHeader:
          // Major version 1, minor version 1, flags 0; nothing in them changes how the rest is read.
          cursor.skip(3, "fragment header");
          break;
        case Token.openStartElement: {
          if (stack.length >= BinXmlLimits.maxElementDepth)
            throw limit(`elements nested deeper than ${BinXmlLimits.maxElementDepth}`, at);
          // Inside template definitions the element header starts with a dependency identifier (u16, 0xffff when
          // unset); elements written directly in a record or in a nested BinXml value have none. Then the element's
          // data size (u32).
          cursor.skip(values === null ? 6 : 4, "element header");
          const name = this.readName(cursor);
          if (token & MORE_FLAG) cursor.skip(4, "attribute list size");
          attribute = null;
          stack.push({ name, attributes: [], children: [], dynamic: false });
          break;
        }
        case Token.closeStartElement:
          if (stack.length === 0) throw bad("close of a start tag outside an element", at);
          attribute = null;
          break;
        case Token.closeEmptyElement:
        case Token.endElement:
          close(at);
          break;
        case Token.value:
          append(this.readValueToken(cursor), false);
          break;
        case Token.attribute: {
          const top = stack.at(-1);
          if (top === undefined) throw bad("attribute outside an element", at);
          attribute = { name: this.readName(cursor), value: [] };
          top.attributes.push(attribute);
          break;
        }
        case Token.cdata:
          append({ kind: "cdata", text: cursor.utf16(cursor.u16("CDATA length"), "CDATA") }, false);
          break;
        case Token.charRef:
          append({ kind: "charref", code: cursor.u16("character reference") }, false);
          break;
        case Token.entityRef:
          append({ kind: "entityref", name: this.readName(cursor) }, false);
          break;
        case Token.piTarget: {
          const target = this.readName(cursor);
          let data = "";
          if (cursor.remaining > 0 && cursor.bytes[cursor.pos] === Token.piData) {
            cursor.pos += 1;
            data = cursor.utf16(cursor.u16("PI data length"), "PI data");
          }
          append({ kind: "pi", target, data }, false);
          break;
        }
        case Token.templateInstance:
          if (token !== Token.templateInstance) throw bad(`unknown token 0x${token.toString(16)}`, at);
          appendAll(this.readTemplateInstance(cursor, nesting));
          break;
        case Token.normalSubstitution:
        case Token.optionalSubstitution: {
          if (token & MORE_FLAG) throw bad(`unknown token 0x${token.toString(16)}`, at);
          const index = cursor.u16("substitution index");
          cursor.skip(1, "substitution value type");
          const optional = token === Token.optionalSubstitution;
          if (values === null) append({ kind: "substitution", index, optional }, true);
          else appendAll(this.resolve(values, index, optional, at));
          break;
        }
        default:
          throw bad(`unknown token 0x${token.toString(16)}`, at);
      }
    }
    if (stack.length > 0) throw bad(`binary XML ends inside <${stack.at(-1)!.name}>`, cursor.pos);
    return root;
  }

  /** A value token outside substitutions: almost always a length-prefixed UTF-16 string. */
  private readValueToken(cursor: ByteCursor): XmlNode {
    const at = cursor.pos;
    const type = cursor.u8("value type");
    if (type === ValueType.string) return { kind: "text", text: cursor.utf16(cursor.u16("value length"), "value") };
    const width = fixedSizeOf(type);
    if (width === undefined) throw bad(`value token of type 0x${type.toString(16)}`, at);
    cursor.need(width, "value");
    const value = decodeValue(type, this.chunk, this.view, cursor.pos, width);
    cursor.pos += width;
    return { kind: "value", value };
  }

  /**
   * A name reference: a chunk-relative offset to a name structure (next-in-bucket offset u32, hash u16, character
   * count u16, UTF-16 characters, NUL). When the offset is the current position the structure is inline and is
   * stepped over; otherwise it lives in the chunk's string table, written by an earlier record.
   */
  private readName(cursor: ByteCursor): string {
    const at = cursor.pos;
    const offset = cursor.u32("name offset");
    const entry = this.nameAt(offset, at);
    if (offset === cursor.pos) cursor.skip(entry.length, "inline name");
    return entry.name;
  }

  private nameAt(offset: number, at: number): { name: string; length: number } {
    const cached = this.names.get(offset);
    if (cached !== undefined) return cached;
    if (offset < CHUNK_HEADER_SIZE || offset + 8 > this.chunk.length)
      throw bad(`name offset 0x${offset.toString(16)} outside the chunk`, at);
    const units = this.view.getUint16(offset + 6, true);
    const length = 8 + units * 2 + 2;
    if (offset + length > this.chunk.length) throw bad(`name at 0x${offset.toString(16)} runs past the chunk`, at);
    const cursor = new ByteCursor(this.chunk, offset + 8, offset + 8 + units * 2);
    const entry = { name: cursor.utf16(units, "name"), length };
    this.names.set(offset, entry);
    return entry;
  }

  /**
   * Template instance: unknown u8, template id u32, definition offset u32, the definition itself when it is inline
   * (first use in the chunk), then the substitution array that fills it.
   */
  private readTemplateInstance(cursor: ByteCursor, nesting: number): XmlNode[] {
    cursor.skip(5, "template instance header");
    const at = cursor.pos;
    const offset = cursor.u32("template definition offset");
    const template = this.templateAt(offset, nesting, at);
    if (offset === cursor.pos) cursor.skip(TEMPLATE_HEADER_SIZE + template.dataSize, "inline template definition");
    const values = this.readSubstitutionArray(cursor, nesting);
    const out: XmlNode[] = [];
    this.instantiate(template.nodes, values, out, at);
    return out;
  }

  private templateAt(offset: number, nesting: number, at: number): Template {
    const cached = this.templates.get(offset);
    if (cached === PENDING) throw limit(`template at 0x${offset.toString(16)} refers to itself`, at);
    if (cached !== undefined) return cached;
    if (offset < CHUNK_HEADER_SIZE || offset + TEMPLATE_HEADER_SIZE > this.chunk.length) {
      throw bad(`template offset 0x${offset.toString(16)} outside the chunk`, at);
    }
    const dataSize = this.view.getUint32(offset + 20, true);
    const start = offset + TEMPLATE_HEADER_SIZE;
    if (start + dataSize > this.chunk.length) throw bad(`template at 0x${offset.toString(16)} runs past the chunk`, at);
    this.templates.set(offset, PENDING);
    try {
      const nodes = this.parseFragment(new ByteCursor(this.chunk, start, start + dataSize), nesting + 1, null);
      const template = { nodes, dataSize };
      this.templates.set(offset, template);
      return template;
    } catch (error) {
      this.templates.delete(offset);
      throw error;
    }
  }

  /** Count u32, then per value a descriptor (size u16, type u8, padding u8), then the values back to back. */
  private readSubstitutionArray(cursor: ByteCursor, nesting: number): SubstitutionValue[] {
    const count = cursor.u32("substitution count");
    if (count * 4 > cursor.remaining) throw bad(`${count} substitutions do not fit in the record`, cursor.pos);
    const descriptors: { size: number; type: number }[] = [];
    for (let i = 0; i < count; i++) {
      const size = cursor.u16();
      const type = cursor.u8();
      cursor.skip(1, "descriptor padding");
      descriptors.push({ size, type });
    }
    const values: SubstitutionValue[] = [];
    for (const { size, type } of descriptors) {
      const at = cursor.pos;
      cursor.need(size, `substitution value of type 0x${type.toString(16)}`);
      if (type === ValueType.binXml) {
        const nodes =
          size === 0
            ? []
            : (this.parseFragment(new ByteCursor(this.chunk, at, at + size), nesting + 1, []) as XmlNode[]);
        values.push({ type: "binxml", nodes, count: countNodes(nodes) });
      } else {
        values.push(decodeValue(type, this.chunk, this.view, at, size));
      }
      cursor.pos = at + size;
    }
    return values;
  }

  private resolve(
    values: readonly SubstitutionValue[],
    index: number,
    optional: boolean,
    at: number,
  ): readonly XmlNode[] {
    const value = values[index];
    // An index past the array, or an optional substitution with nothing in it, leaves no trace in the XML.
    if (value === undefined || (optional && isEmptyValue(value))) return [];
    if (value.type === "binxml") {
      this.spend(value.count, at);
      return value.nodes;
    }
    this.spend(1, at);
    return [{ kind: "value", value }];
  }

  private spend(nodes: number, at: number): void {
    this.nodeBudget -= nodes;
    if (this.nodeBudget < 0) throw limit(`record expands to more than ${BinXmlLimits.maxNodes} nodes`, at);
  }

  private instantiate(
    nodes: readonly TemplateNode[],
    values: readonly SubstitutionValue[],
    out: XmlNode[],
    at: number,
  ): void {
    this.spend(nodes.length, at);
    for (const node of nodes) {
      if (node.kind === "substitution") {
        for (const resolved of this.resolve(values, node.index, node.optional, at)) out.push(resolved);
      } else if (node.kind === "template-element") {
        const attributes: XmlAttribute[] = [];
        for (const attribute of node.attributes) {
          const value: XmlNode[] = [];
          this.instantiate(attribute.value, values, value, at);
          attributes.push({ name: attribute.name, value });
        }
        const children: XmlNode[] = [];
        this.instantiate(node.children, values, children, at);
        out.push({ kind: "element", name: node.name, attributes, children });
      } else {
        out.push(node);
      }
    }
  }
}
