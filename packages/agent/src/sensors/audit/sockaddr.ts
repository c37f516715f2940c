import { formatIpv4, formatIpv6 } from "../ip-address.ts";

/**
 * The `saddr` of an audit SOCKADDR record: the struct sockaddr the syscall passed, in hex. From
 * linux/socket.h, linux/in.h, linux/in6.h, linux/un.h (sa_family host order, ports network order):
 *
 *   struct sockaddr_in  { sa_family_t sin_family; __be16 sin_port; struct in_addr sin_addr; … };
 *   struct sockaddr_in6 { sa_family_t sin6_family; __be16 sin6_port; __be32 sin6_flowinfo;
 *                         struct in6_addr sin6_addr; __u32 sin6_scope_id; };
 *   struct sockaddr_un  { sa_family_t sun_family; char sun_path[108]; };  (sun_path[0] == 0: abstract)
 */
export type DecodedSockaddr =
  | { readonly family: "inet" | "inet6"; readonly ip: string; readonly port: number }
  | { readonly family: "unix"; readonly path: string }
  | { readonly family: "other"; readonly number: number };

const AF_UNIX = 1;
const AF_INET = 2;
const AF_INET6 = 10;

export function decodeSockaddr(hex: string): DecodedSockaddr | undefined {
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(hex)) return undefined;
  const bytes = Buffer.from(hex, "hex");
  if (bytes.length < 2) return undefined;
  const family = bytes.readUInt16LE(0);
  if (family === AF_INET && bytes.length >= 8)
    return { family: "inet", ip: formatIpv4(bytes, 4), port: bytes.readUInt16BE(2) };
  if (family === AF_INET6 && bytes.length >= 24)
    return { family: "inet6", ip: formatIpv6(bytes, 8), port: bytes.readUInt16BE(2) };
  if (family === AF_UNIX) {
    const abstract = bytes.length > 2 && bytes[2] === 0;
    const start = abstract ? 3 : 2;
    const end = bytes.indexOf(0, start);
    const path = bytes.toString("utf8", start, end < 0 ? bytes.length : end);
    return { family: "unix", path: abstract ? `@${path}` : path };
  }
  if (family === AF_INET || family === AF_INET6) return undefined;
  return { family: "other", number: family };
}
