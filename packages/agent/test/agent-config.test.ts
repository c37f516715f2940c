import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { AGENT_CONFIG_DEFAULTS, parseConfig } from "../src/agent-config.ts";

const PACKAGE = join(import.meta.dirname, "..");

test("ring3-agent.example.yaml parses and lists exactly the defaults the agent uses", () => {
  const path = join(PACKAGE, "ring3-agent.example.yaml");
  const text = readFileSync(path, "utf8");
  assert.deepEqual(parseConfig(text, path), { ...AGENT_CONFIG_DEFAULTS });
  // One comment per key: every key line is preceded by a comment line.
  const lines = text.split("\n");
  for (const [i, line] of lines.entries()) {
    if (!/^[A-Za-z]+:/.test(line)) continue;
    assert.match(lines[i - 1] ?? "", /^#/, `no comment above '${line}'`);
  }
});

test("config: unknown keys and wrong types are refused", () => {
  assert.throws(() => parseConfig("fanotfy: false\n", "x.yaml"), /unknown key 'fanotfy'/);
  assert.throws(() => parseConfig("healthIntervalMs: 0\n", "x.yaml"), /positive integer/);
  assert.throws(() => parseConfig("fileExclude: /tmp\n", "x.yaml"), /string\[\]/);
  assert.deepEqual(parseConfig("", "x.yaml"), {});
  assert.deepEqual(parseConfig("audit: false\n", "x.yaml"), { audit: false });
});

test("ring3-agent.service runs the repository's ring3 agent with /etc/ring3/agent.yaml and keeps the sensors' capabilities", () => {
  const unit = readFileSync(join(PACKAGE, "ring3-agent.service"), "utf8");
  const value = (key: string): string[] =>
    unit
      .split("\n")
      .filter((line) => line.startsWith(`${key}=`))
      .map((line) => line.slice(key.length + 1));
  assert.deepEqual(value("ExecStart"), [
    "/opt/ring3/node_modules/.bin/node --max-semi-space-size=8 /opt/ring3/packages/cli/bin/ring3.js agent --config /etc/ring3/agent.yaml",
  ]);
  // The cache is warmed before the agent starts, by the same node with the same flags.
  assert.deepEqual(value("ExecStartPre"), [
    "-/bin/sh -c 'exec /opt/ring3/node_modules/.bin/node --max-semi-space-size=8 /opt/ring3/packages/cli/bin/ring3.js help >/dev/null'",
  ]);
  assert.deepEqual(value("Restart"), ["on-failure"]);
  assert.deepEqual(value("KillMode"), ["mixed"]);
  assert.equal(value("TimeoutStopSec").length, 1);
  const needed = [
    "CAP_AUDIT_CONTROL",
    "CAP_AUDIT_READ",
    "CAP_NET_ADMIN",
    "CAP_SYS_ADMIN",
    "CAP_DAC_READ_SEARCH",
    "CAP_SYS_PTRACE",
  ];
  for (const key of ["CapabilityBoundingSet", "AmbientCapabilities"]) {
    const caps = value(key)[0]?.split(" ") ?? [];
    for (const cap of needed) assert.ok(caps.includes(cap), `${key} lacks ${cap}`);
  }
  // The compile cache holds code the agent runs as root: only in systemd's root-only cache directory.
  assert.deepEqual(value("CacheDirectory"), ["ring3"]);
  assert.deepEqual(value("CacheDirectoryMode"), ["0700"]);
  assert.deepEqual(value("Environment"), ["NODE_COMPILE_CACHE=/var/cache/ring3/compile-cache"]);
  // The agent needs netlink sockets: a RestrictAddressFamilies without AF_NETLINK would disable every sensor.
  assert.ok(value("RestrictAddressFamilies")[0]?.split(" ").includes("AF_NETLINK"));
});
