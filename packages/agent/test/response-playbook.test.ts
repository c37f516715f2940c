// Playbooks: a rule's ring3_response attribute, parsed from the rule text, turned into requests from the
// alert's event, and run — only when automatic responses are on, only on hosts in the named groups.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createDetector, loadRules } from "@ring3/detection";
import type { ResponseRequest } from "@ring3/protocol";
import type { Event } from "@ring3/schema";
import { PlaybookRunner, parsePlaybooks, stepRequest } from "../src/response/playbook.ts";
import { ResponseExecutor } from "../src/response/response-executor.ts";
import { alive, killLeftovers, spawnTree, tempStateDir } from "./response-harness.ts";

const RULE = `title: Cryptominer started
id: 5b1d3a0e-6a55-4c6e-9d5c-2c1f0d7f8a11
status: experimental
description: test rule
author: ring3
date: 2026-11-24
logsource:
    category: process_creation
    product: linux
detection:
    selection:
        Image|endswith: '/xmrig'
    condition: selection
level: critical
ring3_response:
    - action: kill
      tree: true
    - action: block
    - action: isolate
      host_groups: [dmz]
`;

const event = (fields: Record<string, string | number>): Event => ({
  id: "e1",
  time: "2026-11-24T00:00:00.000Z",
  host: "h",
  logsource: { product: "linux", category: "process_creation" },
  fields,
});

test("parsePlaybooks: steps by rule id; a malformed ring3_response is reported and ignored", () => {
  const index = parsePlaybooks([
    { path: "good.yml", text: RULE },
    {
      path: "bad.yml",
      text: "title: x\nid: 11111111-2222-4333-8444-555555555555\nring3_response:\n    - action: reboot\n",
    },
    { path: "noid.yml", text: "title: y\nring3_response: []\n" },
    { path: "keys.yml", text: "title: z\nid: z1\nring3_response:\n    - action: kill\n      when: always\n" },
  ]);
  assert.deepEqual(index.steps.get("5b1d3a0e-6a55-4c6e-9d5c-2c1f0d7f8a11"), [
    { action: "kill", tree: true, hostGroups: [] },
    { action: "block", tree: false, hostGroups: [] },
    { action: "isolate", tree: false, hostGroups: ["dmz"] },
  ]);
  assert.equal(index.steps.size, 1);
  assert.deepEqual(index.errors, [
    "bad.yml: ring3_response[0]: action must be one of kill, suspend, quarantine, block, isolate",
    "noid.yml: ring3_response: the rule has no id to attach the response to",
    "keys.yml: ring3_response[0]: unknown key 'when'",
  ]);
  // Sigma tools see a custom attribute: the rule loads and compiles without a diagnostic.
  const loaded = loadRules([{ path: "good.yml", text: RULE }]);
  assert.deepEqual(loaded.diagnostics, []);
  assert.equal(loaded.stats.compiled, 1);
});

test("stepRequest: what each action takes from the event", () => {
  const e = event({
    ProcessId: 4242,
    TargetFilename: "/tmp/x",
    Hashes: "SHA256=" + "AB".repeat(32),
  });
  const step = (action: "kill" | "suspend" | "quarantine" | "block" | "isolate", tree = false) => ({
    action,
    tree,
    hostGroups: [],
  });
  assert.deepEqual(stepRequest(step("kill", true), e, []), { action: "kill", pid: 4242, tree: true });
  assert.deepEqual(stepRequest(step("suspend"), e, []), { action: "suspend", pid: 4242 });
  assert.deepEqual(stepRequest(step("quarantine"), e, []), { action: "quarantine", path: "/tmp/x" });
  assert.deepEqual(stepRequest(step("block"), e, []), { action: "block", sha256: "ab".repeat(32) });
  assert.deepEqual(stepRequest(step("isolate"), e, ["10.0.0.1:8443"]), { action: "isolate", allow: ["10.0.0.1:8443"] });
  assert.equal(
    stepRequest(step("quarantine"), event({ ProcessId: 1 }), []),
    "quarantine: the event has no TargetFilename",
  );
  assert.equal(stepRequest(step("kill"), event({}), []), "kill: the event has no ProcessId");
});

test("automatic responses off (the default): an alert runs nothing", async () => {
  const requests: ResponseRequest[] = [];
  const runner = new PlaybookRunner(parsePlaybooks([{ path: "r.yml", text: RULE }]), {
    enabled: false,
    hostGroups: ["dmz"],
    isolationAllow: [],
    execute: (request) => {
      requests.push(request);
      return Promise.reject(new Error("must not run"));
    },
  });
  assert.deepEqual(await runner.onAlert("5b1d3a0e-6a55-4c6e-9d5c-2c1f0d7f8a11", event({ ProcessId: 5 })), []);
  assert.deepEqual(requests, []);
});

test("automatic responses on: the detector's alert kills the real process tree; host groups gate steps", async () => {
  const state = tempStateDir();
  const { tree } = await spawnTree("sleep 300 & wait", 2);
  try {
    const executor = new ResponseExecutor({ stateDir: state.dir });
    const runner = new PlaybookRunner(parsePlaybooks([{ path: "r.yml", text: RULE }]), {
      enabled: true,
      hostGroups: ["office"],
      isolationAllow: ["10.0.0.1:8443"],
      execute: (request) => executor.execute(request, { origin: "playbook" }),
    });
    const { detector } = createDetector(loadRules([{ path: "r.yml", text: RULE }]));
    const alertEvent = event({ Image: "/opt/x/xmrig", ProcessId: tree[0]!.pid });
    const alerts = detector.detect(alertEvent).alerts;
    assert.equal(alerts.length, 1);
    const ruleId = alerts[0]!.kind === "rule" ? alerts[0]!.match.ruleId : "";
    const results = await runner.onAlert(ruleId, alertEvent);
    // kill ran; block was skipped (no Hashes); isolate is for the dmz group only, this host is in office.
    assert.deepEqual(
      results.map((r) => [r.step.action, typeof r.result === "string" ? r.result : r.result.ok]),
      [
        ["kill", true],
        ["block", "block: the event has no SHA256 in Hashes"],
      ],
    );
    assert.deepEqual(await alive(tree.map((s) => s.pid)), []);
  } finally {
    await killLeftovers(tree);
    state.cleanup();
  }
});
