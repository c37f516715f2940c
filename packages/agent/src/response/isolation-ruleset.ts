import { isIP } from "node:net";

/** nftables names ring3 owns. Isolation creates, replaces and deletes this table and nothing else. */
export const ISOLATION_FAMILY = "inet";
export const ISOLATION_TABLE = "ring3_isolation";

/** An allowed management endpoint as written: `host:port`, `[v6]:port`. */
export type EndpointSpec = { readonly host: string; readonly port: number };
/** One resolved address of an allowed endpoint. */
export type AllowedEndpoint = { readonly address: string; readonly family: 4 | 6; readonly port: number };

export type IsolationPlan = {
  readonly endpoints: readonly AllowedEndpoint[];
  /** DNS to these resolvers (udp and tcp 53); "any" when the host resolves through a local stub. */
  readonly dns: readonly { readonly address: string; readonly family: 4 | 6 }[] | "any" | undefined;
  /** DHCPv4 (68 → 67) and DHCPv6 (546 → 547), so a lease can still be renewed while isolated. */
  readonly dhcp: boolean;
};

/** `host:port` or `[ipv6]:port` → parts; undefined when it is neither (the message says why). */
export function parseEndpoint(text: string): EndpointSpec | string {
  let host: string;
  let portText: string;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0 || text[close + 1] !== ":") return `'${text}': an IPv6 endpoint is written [address]:port`;
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    if (isIP(host) !== 6) return `'${text}': '${host}' is not an IPv6 address`;
  } else {
    const colon = text.lastIndexOf(":");
    if (colon <= 0) return `'${text}' is not host:port`;
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(":")) return `'${text}': write an IPv6 endpoint as [address]:port`;
    // A host name: letters, digits, dots and hyphens (RFC 1123), nothing nft or a resolver could misread.
    if (isIP(host) === 0 && !/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(host))
      return `'${text}': '${host}' is neither an address nor a host name`;
  }
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65535)) return `'${text}': the port must be 1-65535`;
  return { host, port };
}

/** `nameserver` lines of resolv.conf(5). */
export function parseResolvConf(text: string): { address: string; family: 4 | 6 }[] {
  const out: { address: string; family: 4 | 6 }[] = [];
  for (const line of text.split("\n")) {
    const match = /^\s*nameserver\s+(\S+)/.exec(line);
    // A link-local IPv6 resolver carries its zone (fe80::1%eth0); nft matches the address alone.
    const address = match?.[1]?.split("%")[0];
    if (address === undefined) continue;
    const family = isIP(address);
    if (family === 4 || family === 6) out.push({ address, family });
  }
  return out;
}

const isLoopback = (address: string): boolean => address.startsWith("127.") || address === "::1";

/**
 * The DNS part of a plan from resolv.conf: its resolvers; or any resolver when every configured one is on
 * loopback (systemd-resolved's 127.0.0.53, dnsmasq), because that stub forwards to servers resolv.conf
 * does not name.
 */
export function dnsFromResolvConf(text: string): IsolationPlan["dns"] {
  const servers = parseResolvConf(text);
  if (servers.length === 0 || servers.every((s) => isLoopback(s.address))) return "any";
  return servers.filter((s) => !isLoopback(s.address));
}

const ip = (family: 4 | 6): string => (family === 4 ? "ip" : "ip6");

/**
 * The whole isolation table as one `nft -f` transaction. It first creates the table (a no-op when present)
 * and deletes it, then declares it anew, so applying it replaces an earlier isolation atomically and never
 * fails on a table that is or is not there. Base chains at priority -10 (before the usual filter 0): an
 * accept in another table cannot undo a drop here, since a packet must pass every base chain on its hook.
 *
 * Kept open: loopback; every allowed endpoint (both directions, tcp and udp, and ICMP with it so path MTU
 * discovery keeps working); IPv6 neighbour discovery (without it no IPv6 peer is reachable at all); DNS and
 * DHCP when asked. ARP is outside the inet family and keeps working.
 */
export function buildIsolationRuleset(plan: IsolationPlan): string {
  const input: string[] = ['iif "lo" accept'];
  const output: string[] = ['oif "lo" accept'];
  for (const e of plan.endpoints) {
    output.push(`${ip(e.family)} daddr ${e.address} meta l4proto { tcp, udp } th dport ${e.port} accept`);
    input.push(`${ip(e.family)} saddr ${e.address} meta l4proto { tcp, udp } th sport ${e.port} accept`);
  }
  const hosts = new Map(plan.endpoints.map((e) => [e.address, e.family]));
  for (const [address, family] of hosts) {
    const icmp = family === 4 ? "icmp" : "icmpv6";
    input.push(`${ip(family)} saddr ${address} meta l4proto ${icmp} accept`);
    output.push(`${ip(family)} daddr ${address} meta l4proto ${icmp} accept`);
  }
  const nd = "icmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept";
  input.push(nd);
  output.push(nd);
  if (plan.dns === "any") {
    output.push("meta l4proto { tcp, udp } th dport 53 accept");
    input.push("meta l4proto { tcp, udp } th sport 53 accept");
  } else if (plan.dns !== undefined) {
    for (const server of plan.dns) {
      output.push(`${ip(server.family)} daddr ${server.address} meta l4proto { tcp, udp } th dport 53 accept`);
      input.push(`${ip(server.family)} saddr ${server.address} meta l4proto { tcp, udp } th sport 53 accept`);
    }
  }
  if (plan.dhcp) {
    output.push("udp sport 68 udp dport 67 accept", "udp sport 546 udp dport 547 accept");
    input.push("udp sport 67 udp dport 68 accept", "udp sport 547 udp dport 546 accept");
  }
  const chain = (name: string, hook: string, rules: readonly string[]): string[] => [
    `  chain ${name} {`,
    `    type filter hook ${hook} priority -10; policy drop;`,
    ...rules.map((r) => `    ${r}`),
    "  }",
  ];
  return [
    `table ${ISOLATION_FAMILY} ${ISOLATION_TABLE}`,
    `delete table ${ISOLATION_FAMILY} ${ISOLATION_TABLE}`,
    `table ${ISOLATION_FAMILY} ${ISOLATION_TABLE} {`,
    ...chain("input", "input", input),
    ...chain("output", "output", output),
    // A host that routes (containers, VMs behind it) stops forwarding for them too.
    ...chain("forward", "forward", []),
    "}",
    "",
  ].join("\n");
}

/**
 * `ss` arguments that destroy (SOCK_DESTROY, `ss -K`) every established TCP socket the ruleset no longer
 * lets through: all but loopback and the allowed endpoints (and DNS when kept). The kernel aborts each with
 * ECONNABORTED, so a session does not linger half-dead until its keepalive gives up.
 */
export function sessionKillArgs(plan: IsolationPlan): string[] {
  const keep: string[] = ["dst 127.0.0.0/8", "dst [::1]"];
  for (const e of plan.endpoints)
    keep.push(e.family === 4 ? `dst ${e.address}:${e.port}` : `dst [${e.address}]:${e.port}`);
  if (plan.dns !== undefined) keep.push("dport = :53");
  const filter: string[] = ["not", "("];
  keep.forEach((k, i) => {
    if (i > 0) filter.push("or");
    filter.push(...k.split(" "));
  });
  filter.push(")");
  return ["-K", "-t", "-n", "-H", "state", "established", ...filter];
}
