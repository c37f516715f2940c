/** IPv4/IPv6 parsing for the `cidr` modifier. Addresses are bigints so both families share one comparison. */
export type IpNetwork = { readonly v6: boolean; readonly base: bigint; readonly mask: bigint; readonly text: string };

export function parseIp(text: string): { v6: boolean; value: bigint } | undefined {
  const t = text.trim();
  if (t.includes(":")) return parseIpv6(t);
  const v4 = parseIpv4(t);
  return v4 === undefined ? undefined : { v6: false, value: v4 };
}

function parseIpv4(t: string): bigint | undefined {
  const parts = t.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    value = (value << 8n) | BigInt(Number(p));
  }
  return value;
}

function parseIpv6(t: string): { v6: boolean; value: bigint } | undefined {
  let text = t;
  const zone = text.indexOf("%");
  if (zone >= 0) text = text.slice(0, zone);
  if (text.startsWith("[") && text.endsWith("]")) text = text.slice(1, -1);
  // An embedded IPv4 tail (`::ffff:10.0.0.1`) stands for the last two groups.
  const lastColon = text.lastIndexOf(":");
  const maybeV4 = text.slice(lastColon + 1);
  if (maybeV4.includes(".")) {
    const v4 = parseIpv4(maybeV4);
    if (v4 === undefined) return undefined;
    text = `${text.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parse = (s: string): bigint[] | undefined => {
    if (s === "") return [];
    const groups: bigint[] = [];
    for (const g of s.split(":")) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      groups.push(BigInt(parseInt(g, 16)));
    }
    return groups;
  };
  const head = parse(halves[0] ?? "");
  const rest = halves.length === 2 ? parse(halves[1] ?? "") : [];
  if (head === undefined || rest === undefined) return undefined;
  const explicit = head.length + rest.length;
  if (explicit > 8 || (halves.length === 1 && explicit !== 8)) return undefined;
  const groups = [...head, ...Array<bigint>(8 - explicit).fill(0n), ...rest];
  let value = 0n;
  for (const g of groups) value = (value << 16n) | g;
  return { v6: true, value };
}

export function parseNetwork(text: string): IpNetwork | undefined {
  const [address = "", prefixText] = text.trim().split("/");
  const ip = parseIp(address);
  if (ip === undefined) return undefined;
  const bits = ip.v6 ? 128 : 32;
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > bits) return undefined;
  const all = (1n << BigInt(bits)) - 1n;
  const mask = all ^ ((1n << BigInt(bits - prefix)) - 1n);
  return { v6: ip.v6, base: ip.value & mask, mask, text };
}

export function networkContains(network: IpNetwork, address: string): boolean {
  const ip = parseIp(address);
  if (ip === undefined) return false;
  if (ip.v6 === network.v6) return (ip.value & network.mask) === network.base;
  // An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is the IPv4 address for an IPv4 network.
  if (!network.v6 && ip.v6 && ip.value >> 32n === 0xffffn)
    return (ip.value & 0xffffffffn & network.mask) === network.base;
  return false;
}
