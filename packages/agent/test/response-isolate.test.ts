// Host isolation, only ever inside two network namespaces this test creates and deletes: "host" (where
// ring3 isolates) and "mgmt" (a fake management server), joined by a veth pair. nft and ss run only inside
// the host namespace; the machine's own network is never touched.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { test } from "node:test";
import type { ActionResult } from "@ring3/protocol";
import {
  buildIsolationRuleset,
  dnsFromResolvConf,
  parseEndpoint,
  sessionKillArgs,
} from "../src/response/isolation-ruleset.ts";
import { waitFor } from "./agent-harness.ts";
import { show, tempStateDir } from "./response-harness.ts";

const hasTool = (tool: string): boolean => spawnSync(tool, ["--version"]).error === undefined;
const skip =
  process.getuid?.() !== 0
    ? "needs root (ip netns)"
    : !hasTool("ip") || !hasTool("nft") || !hasTool("ss")
      ? "needs ip, nft and ss (iproute2, nftables)"
      : false;

const RUNNER = join(import.meta.dirname, "fixtures", "response-runner.ts");

function sh(args: readonly string[]): string {
  const result = spawnSync(args[0]!, args.slice(1), { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`${args.join(" ")}: ${result.stderr}`);
  return result.stdout;
}

type Lab = {
  host: string;
  mgmt: string;
  hostIp: string;
  mgmtIp: string;
  server: ChildProcess;
  cleanup: () => void;
};

/** Two namespaces, a veth pair between them, and a TCP echo server on 8443 and 9000 in mgmt. */
async function makeLab(): Promise<Lab> {
  const id = randomBytes(3).toString("hex");
  const host = `r3t-host-${id}`;
  const mgmt = `r3t-mgmt-${id}`;
  const subnet = `10.${200 + (parseInt(id.slice(0, 2), 16) % 50)}.${parseInt(id.slice(2, 4), 16)}`;
  const hostIp = `${subnet}.1`;
  const mgmtIp = `${subnet}.2`;
  let server: ChildProcess | undefined;
  const cleanup = (): void => {
    server?.kill("SIGKILL");
    spawnSync("ip", ["netns", "del", host]);
    spawnSync("ip", ["netns", "del", mgmt]);
  };
  try {
    sh(["ip", "netns", "add", host]);
    sh(["ip", "netns", "add", mgmt]);
    // Created inside the host namespace with its peer inside mgmt: the root namespace never has either end.
    sh(["ip", "-n", host, "link", "add", "veth-h", "type", "veth", "peer", "name", "veth-m", "netns", mgmt]);
    sh(["ip", "-n", host, "addr", "add", `${hostIp}/24`, "dev", "veth-h"]);
    sh(["ip", "-n", mgmt, "addr", "add", `${mgmtIp}/24`, "dev", "veth-m"]);
    for (const [ns, dev] of [
      [host, "veth-h"],
      [mgmt, "veth-m"],
    ] as const) {
      sh(["ip", "-n", ns, "link", "set", dev, "up"]);
      sh(["ip", "-n", ns, "link", "set", "lo", "up"]);
    }
    const script = `
      const net = require("node:net");
      for (const port of [8443, 9000])
        net.createServer((s) => { s.on("error", () => {}); s.pipe(s); }).listen(port, "${mgmtIp}", () => console.log("listening " + port));`;
    server = spawn("ip", ["netns", "exec", mgmt, process.execPath, "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    server.stdout?.on("data", (chunk: Buffer) => (out += chunk.toString()));
    await waitFor(
      "the fake management server",
      () => (out.includes("listening 9000") && out.includes("listening 8443") ? true : undefined),
      10_000,
    );
    return { host, mgmt, hostIp, mgmtIp, server, cleanup };
  } catch (error) {
    cleanup();
    throw error;
  }
}

/** Whether a TCP connect from the host namespace to ip:port completes within 1.5 s (and echoes). */
function probe(lab: Lab, port: number): boolean {
  const script = `
    const s = require("node:net").connect({ host: "${lab.mgmtIp}", port: ${port}, timeout: 1500 });
    s.on("connect", () => s.write("ping"));
    s.on("data", () => { console.log("open"); process.exit(0); });
    s.on("timeout", () => { console.log("timeout"); process.exit(1); });
    s.on("error", (e) => { console.log(e.code); process.exit(1); });`;
  const result = spawnSync("ip", ["netns", "exec", lab.host, process.execPath, "-e", script], { encoding: "utf8" });
  return result.stdout.trim() === "open";
}

/** A session opened before isolation, from the host namespace, reporting what happens to it. */
async function openSession(lab: Lab, port: number): Promise<{ events: () => string; child: ChildProcess }> {
  const script = `
    const s = require("node:net").connect({ host: "${lab.mgmtIp}", port: ${port} });
    s.on("connect", () => console.log("connected"));
    s.on("error", (e) => console.log("error " + e.code));
    s.on("close", () => { console.log("closed"); process.exit(0); });`;
  const child = spawn("ip", ["netns", "exec", lab.host, process.execPath, "-e", script], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout?.on("data", (chunk: Buffer) => (out += chunk.toString()));
  await waitFor("the session to connect", () => (out.includes("connected") ? true : undefined), 10_000);
  return { events: () => out, child };
}

function runInHost(lab: Lab, stateDir: string, args: readonly string[]): unknown {
  const result = spawnSync("ip", ["netns", "exec", lab.host, process.execPath, RUNNER, stateDir, ...args], {
    encoding: "utf8",
  });
  if (result.status !== 0) throw new Error(`response-runner failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as unknown;
}

const execute = (lab: Lab, stateDir: string, request: unknown, origin = "server"): ActionResult =>
  runInHost(lab, stateDir, ["execute", JSON.stringify(request), origin]) as ActionResult;

test(
  "isolate: only the management port answers, live sessions are cut, release restores everything",
  { skip },
  async () => {
    const lab = await makeLab();
    const state = tempStateDir();
    let session: ChildProcess | undefined;
    try {
      assert.equal(probe(lab, 8443), true, "management port reachable before");
      assert.equal(probe(lab, 9000), true, "other port reachable before");
      const opened = await openSession(lab, 9000);
      session = opened.child;

      const isolated = execute(lab, state.dir, { action: "isolate", allow: [`${lab.mgmtIp}:8443`] }, "local");
      assert.equal(isolated.ok, true, show(isolated));
      const token = isolated.details?.breakGlassToken as string;
      assert.match(token, /^[A-Za-z0-9_-]{24}$/);
      assert.ok((isolated.details?.sessionsCut as number) >= 1, show(isolated));

      assert.equal(probe(lab, 8443), true, "the management port still answers");
      assert.equal(probe(lab, 9000), false, "every other port is unreachable");
      await waitFor("the established session to be cut", () => (opened.events().includes("closed") ? true : undefined));
      assert.match(opened.events(), /error ECONNABORTED/);
      const tables = sh(["ip", "netns", "exec", lab.host, "nft", "list", "tables"]);
      assert.deepEqual(tables.trim().split("\n"), ["table inet ring3_isolation"], "ring3 created its own table only");

      // The token is never written down: neither in the state nor in the action log.
      const stored = sh(["cat", join(state.dir, "isolation.json"), join(state.dir, "actions.jsonl")]);
      assert.equal(stored.includes(token), false);

      // A reboot loses the table; the agent's start applies it again from the state on disk.
      sh(["ip", "netns", "exec", lab.host, "nft", "delete", "table", "inet", "ring3_isolation"]);
      assert.equal(probe(lab, 9000), true);
      const started = runInHost(lab, state.dir, ["start"]) as { lines: string[] };
      assert.match(started.lines.join("\n"), /re-applied/);
      assert.equal(probe(lab, 9000), false, "isolated again after the restart");
      assert.equal(probe(lab, 8443), true);

      const noToken = execute(lab, state.dir, { action: "release" }, "local");
      assert.equal(noToken.code, "R3_ERR_RESPONSE_TOKEN_INVALID", show(noToken));
      const wrong = execute(lab, state.dir, { action: "release", token: "not-the-token" }, "local");
      assert.equal(wrong.code, "R3_ERR_RESPONSE_TOKEN_INVALID", show(wrong));
      assert.equal(probe(lab, 9000), false, "a refused release changes nothing");

      const released = execute(lab, state.dir, { action: "release", token }, "local");
      assert.equal(released.ok, true, show(released));
      assert.equal(probe(lab, 9000), true, "everything reachable after release");
      assert.equal(sh(["ip", "netns", "exec", lab.host, "nft", "list", "tables"]).trim(), "");
      const again = execute(lab, state.dir, { action: "release" }, "server");
      assert.equal(again.code, "R3_ERR_RESPONSE_NOT_ISOLATED", show(again));
    } finally {
      session?.kill("SIGKILL");
      lab.cleanup();
      state.cleanup();
    }
  },
);

test(
  "isolate from the server releases without a token; a bad endpoint or no endpoint is refused",
  { skip },
  async () => {
    const lab = await makeLab();
    const state = tempStateDir();
    try {
      const empty = execute(lab, state.dir, { action: "isolate", allow: [] });
      assert.equal(empty.code, "R3_ERR_RESPONSE_BAD_ENDPOINT", show(empty));
      const bad = execute(lab, state.dir, { action: "isolate", allow: ["10.0.0.1"] });
      assert.equal(bad.code, "R3_ERR_RESPONSE_BAD_ENDPOINT", show(bad));
      assert.equal(sh(["ip", "netns", "exec", lab.host, "nft", "list", "tables"]).trim(), "", "nothing applied");
      const isolated = execute(lab, state.dir, {
        action: "isolate",
        allow: [`${lab.mgmtIp}:8443`],
        dns: true,
        dhcp: true,
      });
      assert.equal(isolated.ok, true, show(isolated));
      assert.equal(probe(lab, 9000), false);
      const released = execute(lab, state.dir, { action: "release" }, "server");
      assert.equal(released.ok, true, show(released));
      assert.equal(probe(lab, 9000), true);
    } finally {
      lab.cleanup();
      state.cleanup();
    }
  },
);

test("ruleset and endpoint parsing (pure)", () => {
  assert.deepEqual(parseEndpoint("10.0.0.1:8443"), { host: "10.0.0.1", port: 8443 });
  assert.deepEqual(parseEndpoint("[2001:db8::1]:443"), { host: "2001:db8::1", port: 443 });
  assert.deepEqual(parseEndpoint("ring3.example.org:443"), { host: "ring3.example.org", port: 443 });
  for (const bad of [
    "10.0.0.1",
    "2001:db8::1:443",
    "[2001:db8::1]",
    "host:0",
    "host:70000",
    "a b:1",
    ":80",
    "x;drop:1",
  ])
    assert.equal(typeof parseEndpoint(bad), "string", bad);
  assert.equal(dnsFromResolvConf("nameserver 127.0.0.53\noptions edns0\n"), "any");
  assert.deepEqual(dnsFromResolvConf("# x\nnameserver 10.1.1.1\nnameserver fe80::1%eth0\n"), [
    { address: "10.1.1.1", family: 4 },
    { address: "fe80::1", family: 6 },
  ]);
  const plan = {
    endpoints: [
      { address: "10.0.0.5", family: 4 as const, port: 8443 },
      { address: "2001:db8::5", family: 6 as const, port: 8443 },
    ],
    dns: [{ address: "10.1.1.1", family: 4 as const }],
    dhcp: true,
  };
  // Golden: the exact transaction nft receives.
  assert.equal(
    buildIsolationRuleset(plan),
    `table inet ring3_isolation
delete table inet ring3_isolation
table inet ring3_isolation {
  chain input {
    type filter hook input priority -10; policy drop;
    iif "lo" accept
    ip saddr 10.0.0.5 meta l4proto { tcp, udp } th sport 8443 accept
    ip6 saddr 2001:db8::5 meta l4proto { tcp, udp } th sport 8443 accept
    ip saddr 10.0.0.5 meta l4proto icmp accept
    ip6 saddr 2001:db8::5 meta l4proto icmpv6 accept
    icmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept
    ip saddr 10.1.1.1 meta l4proto { tcp, udp } th sport 53 accept
    udp sport 67 udp dport 68 accept
    udp sport 547 udp dport 546 accept
  }
  chain output {
    type filter hook output priority -10; policy drop;
    oif "lo" accept
    ip daddr 10.0.0.5 meta l4proto { tcp, udp } th dport 8443 accept
    ip6 daddr 2001:db8::5 meta l4proto { tcp, udp } th dport 8443 accept
    ip daddr 10.0.0.5 meta l4proto icmp accept
    ip6 daddr 2001:db8::5 meta l4proto icmpv6 accept
    icmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept
    ip daddr 10.1.1.1 meta l4proto { tcp, udp } th dport 53 accept
    udp sport 68 udp dport 67 accept
    udp sport 546 udp dport 547 accept
  }
  chain forward {
    type filter hook forward priority -10; policy drop;
  }
}
`,
  );
  assert.deepEqual(sessionKillArgs(plan), [
    "-K",
    "-t",
    "-n",
    "-H",
    "state",
    "established",
    "not",
    "(",
    "dst",
    "127.0.0.0/8",
    "or",
    "dst",
    "[::1]",
    "or",
    "dst",
    "10.0.0.5:8443",
    "or",
    "dst",
    "[2001:db8::5]:8443",
    "or",
    "dport",
    "=",
    ":53",
    ")",
  ]);
});
