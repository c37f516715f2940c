import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { Event, EventFields, Logsource } from "@ring3/schema";
import { SHARED_DATA_MISSING, sharedDataDir } from "@ring3/testkit";
import type { CorrelationMatch, DetectionResult, DetectorOptions } from "../src/index.ts";
import { CorrelationEngine, Ruleset, createDetector, loadRules } from "../src/index.ts";

// Correlation documents below are the specification's own examples
// (sigma-correlation-rules-specification.md); the base rules they name are written here.

const T0 = Date.parse("2025-03-01T08:00:00Z");
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

const SECURITY: Logsource = { product: "windows", service: "security" };
const PROCESS: Logsource = { product: "windows", category: "process_creation" };
const PROXY: Logsource = { category: "proxy" };

let sequence = 0;
function event(at: number, logsource: Logsource, fields: EventFields): Event {
  sequence += 1;
  return { id: `e${sequence}`, time: new Date(T0 + at).toISOString(), host: "host-1", logsource, fields };
}

function setup(texts: readonly string[], options: DetectorOptions = {}) {
  const load = loadRules(texts.map((text, i) => ({ path: `mem/${i}.yml`, text })));
  assert.deepEqual(
    load.diagnostics.filter((d) => d.severity === "error"),
    [],
    "the documents load without errors",
  );
  const { detector, diagnostics } = createDetector(load, options);
  return { load, detector, diagnostics };
}

/** Runs events through a detector, collecting every result. */
function run(detector: ReturnType<typeof setup>["detector"], events: readonly Event[]): DetectionResult[] {
  return events.map((e) => detector.detect(e));
}

function correlationAlerts(results: readonly DetectionResult[]): CorrelationMatch[] {
  return results.flatMap((r) => r.alerts.flatMap((a) => (a.kind === "correlation" ? [a.match] : [])));
}

function ruleAlerts(results: readonly DetectionResult[]): number {
  return results.reduce((n, r) => n + r.alerts.filter((a) => a.kind === "rule").length, 0);
}

const FAILED_LOGIN_RULE = `
title: Failed logon
id: 5638f7c0-ac70-491d-8465-2a65075e0d86
name: failed_logon
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 4625
    condition: selection
level: low
`;

// Spec, "Event Count (event_count)".
const EVENT_COUNT = `
title: Many failed logins
id: 0e95725d-7320-415d-80f7-004da920fc11
correlation:
    type: event_count
    rules:
        - 5638f7c0-ac70-491d-8465-2a65075e0d86
    group-by:
        - ComputerName
    timespan: 1h
    condition:
        gte: 100
level: high
`;

function failedLogons(count: number, every: number, fields: EventFields, from = 0): Event[] {
  return Array.from({ length: count }, (_, i) => event(from + i * every, SECURITY, { EventID: 4625, ...fields }));
}

void describe("event_count", () => {
  void test("fires on the event that reaches the count, once, with the group and the count", () => {
    const { detector, diagnostics } = setup([FAILED_LOGIN_RULE, EVENT_COUNT]);
    assert.deepEqual(diagnostics, []);
    const results = run(detector, failedLogons(150, 10 * SECOND, { ComputerName: "DC1" }));
    const hits = correlationAlerts(results);
    assert.equal(hits.length, 1, "one alert, not one per event after the 100th");
    const hit = hits[0]!;
    assert.equal(
      results.findIndex((r) => r.correlationMatches.length > 0),
      99,
    );
    assert.equal(hit.correlationId, "0e95725d-7320-415d-80f7-004da920fc11");
    assert.equal(hit.title, "Many failed logins");
    assert.equal(hit.level, "high");
    assert.equal(hit.type, "event_count");
    assert.deepEqual(hit.group, { ComputerName: "DC1" });
    assert.equal(hit.value, 100);
    assert.equal(hit.firstTime, new Date(T0).toISOString());
    assert.equal(hit.lastTime, new Date(T0 + 99 * 10 * SECOND).toISOString());
    assert.equal(hit.matches.length, 20, "contributing matches are bounded");
    assert.equal(hit.omitted, 80);
    assert.equal(hit.matches.at(-1)?.event.time, hit.lastTime);
  });

  void test("99 events do not fire", () => {
    const { detector } = setup([FAILED_LOGIN_RULE, EVENT_COUNT]);
    const results = run(detector, failedLogons(99, SECOND, { ComputerName: "DC1" }));
    assert.equal(correlationAlerts(results).length, 0);
    assert.equal(correlationAlerts([detector.flush()]).length, 0);
  });

  void test("the window slides over event time: 100 events spread over more than an hour do not fire", () => {
    const { detector } = setup([FAILED_LOGIN_RULE, EVENT_COUNT]);
    // One every 37 s: any hour holds at most 98 of them.
    const results = run(detector, failedLogons(200, 37 * SECOND, { ComputerName: "DC1" }));
    assert.equal(correlationAlerts(results).length, 0);
  });

  void test("groups count apart; a missing group-by field is a group of its own", () => {
    const { detector } = setup([FAILED_LOGIN_RULE, EVENT_COUNT]);
    const events: Event[] = [];
    for (let i = 0; i < 100; i++) {
      events.push(event(i * SECOND, SECURITY, { EventID: 4625, ComputerName: "DC1" }));
      events.push(event(i * SECOND, SECURITY, { EventID: 4625, ComputerName: i % 2 === 0 ? "DC2" : "DC3" }));
      events.push(event(i * SECOND, SECURITY, { EventID: 4625 }));
    }
    const hits = correlationAlerts(run(detector, events));
    assert.deepEqual(
      hits.map((h) => h.group),
      [{ ComputerName: "DC1" }, { ComputerName: null }],
    );
  });

  void test("after firing, a group stays silent for one timespan, then can fire again", () => {
    const { detector } = setup([FAILED_LOGIN_RULE, EVENT_COUNT]);
    // 100 per 30 minutes, for 3 hours.
    const results = run(detector, failedLogons(600, 18 * SECOND, { ComputerName: "DC1" }));
    const hits = correlationAlerts(results);
    assert.ok(hits.length >= 2 && hits.length <= 3, `${hits.length} alerts in 3 hours`);
    for (let i = 1; i < hits.length; i++) {
      assert.ok(Date.parse(hits[i]!.lastTime) - Date.parse(hits[i - 1]!.lastTime) > HOUR);
      assert.ok(Date.parse(hits[i]!.firstTime) > Date.parse(hits[i - 1]!.lastTime), "windows do not overlap");
    }
  });

  void test("a condition with an upper bound is decided when the window closes (advance / flush)", () => {
    const fewer = EVENT_COUNT.replace("gte: 100", "lt: 3").replace("0e95725d-7320-415d-80f7-004da920fc11", "few");
    const { detector } = setup([FAILED_LOGIN_RULE, fewer]);
    const results = run(detector, [
      ...failedLogons(2, MINUTE, { ComputerName: "A" }),
      ...failedLogons(3, MINUTE, { ComputerName: "B" }),
    ]);
    assert.equal(correlationAlerts(results).length, 0, "nothing is known before the window ends");
    const closed = detector.advance(T0 + HOUR + MINUTE);
    assert.deepEqual(
      correlationAlerts([closed]).map((h) => [h.group, h.value]),
      [[{ ComputerName: "A" }, 2]],
    );
    assert.equal(correlationAlerts([detector.flush()]).length, 0, "a window is evaluated once");
  });
});

// Spec, "Value Count (value_count)".
const VALUE_COUNT = `
title: Failed login
id: 0e95725d-7320-415d-80f7-004da920fc12
correlation:
    type: value_count
    rules:
        - 5638f7c0-ac70-491d-8465-2a65075e0d86
    group-by:
        - ComputerName
        - WorkstationName
    timespan: 1d
    condition:
        field: User
        gte: 100
`;

void describe("value_count", () => {
  void test("fires on the 100th distinct user per source and destination", () => {
    const { detector } = setup([FAILED_LOGIN_RULE, VALUE_COUNT]);
    const events = Array.from({ length: 300 }, (_, i) =>
      event(i * MINUTE, SECURITY, { EventID: 4625, ComputerName: "DC1", WorkstationName: "WS7", User: `u${i % 120}` }),
    );
    const hits = correlationAlerts(run(detector, events));
    assert.equal(hits.length, 1);
    assert.equal(hits[0]!.value, 100);
    assert.deepEqual(hits[0]!.group, { ComputerName: "DC1", WorkstationName: "WS7" });
  });

  void test("many attempts on 99 users, or users spread over workstations, do not fire", () => {
    const { detector } = setup([FAILED_LOGIN_RULE, VALUE_COUNT]);
    const events = Array.from({ length: 400 }, (_, i) =>
      event(i * SECOND, SECURITY, {
        EventID: 4625,
        ComputerName: "DC1",
        WorkstationName: i < 200 ? "WS1" : `WS${i % 2}`,
        User: `u${i % 99}`,
      }),
    );
    // Events without the counted field take no part.
    events.push(...failedLogons(50, SECOND, { ComputerName: "DC1", WorkstationName: "WS1" }));
    assert.equal(correlationAlerts(run(detector, events)).length, 0);
  });
});

const RECON_RULES = ["whoami", "net user", "ipconfig"].map(
  (command, i) => `
title: Recon command ${i}
id: 7f1e0c5a-0000-4000-8000-00000000000${i}
name: recon_cmd_${"abc"[i]}
logsource:
    product: windows
    category: process_creation
detection:
    selection:
        CommandLine|contains: '${command}'
    condition: selection
`,
);

// Spec, "Temporal Proximity (temporal)" and "Ordered Temporal Proximity (temporal_ordered)".
const TEMPORAL = `
title: Recon
id: 8b0f4c1e-1d2a-4b6f-9c3e-5a7d9e1f2b3c
correlation:
    type: temporal
    rules:
        - recon_cmd_a
        - recon_cmd_b
        - recon_cmd_c
    group-by:
        - ComputerName
        - User
    timespan: 5m
`;
const TEMPORAL_ORDERED = TEMPORAL.replace("type: temporal", "type: temporal_ordered").replace(
  "title: Recon",
  "title: Recon ordered",
);

function recon(commands: string, at: readonly number[], user = "alice", computer = "WS1"): Event[] {
  const lines: Record<string, string> = { a: "whoami /all", b: "net user /domain", c: "ipconfig /all" };
  return [...commands].map((c, i) =>
    event(at[i] ?? i * SECOND, PROCESS, { CommandLine: lines[c] ?? "", User: user, ComputerName: computer }),
  );
}

void describe("temporal", () => {
  void test("all three rules in any order within 5 minutes, by one user on one system", () => {
    const { detector } = setup([...RECON_RULES, TEMPORAL]);
    const hits = correlationAlerts(run(detector, recon("cab", [0, MINUTE, 4 * MINUTE])));
    assert.equal(hits.length, 1);
    const hit = hits[0]!;
    assert.equal(hit.value, 3);
    assert.deepEqual(hit.group, { ComputerName: "WS1", User: "alice" });
    assert.deepEqual(
      hit.matches.map((m) => m.ruleId),
      [
        "7f1e0c5a-0000-4000-8000-000000000002",
        "7f1e0c5a-0000-4000-8000-000000000000",
        "7f1e0c5a-0000-4000-8000-000000000001",
      ],
    );
  });

  void test("two of three, too far apart, or by different users do not fire", () => {
    const { detector } = setup([...RECON_RULES, TEMPORAL]);
    const events = [
      ...recon("ab", [0, SECOND]),
      ...recon("c", [5 * MINUTE + 2 * SECOND]),
      ...recon("a", [HOUR], "bob"),
      ...recon("b", [HOUR + SECOND], "carol"),
      ...recon("c", [HOUR + 2 * SECOND], "bob", "WS2"),
    ];
    assert.equal(correlationAlerts(run(detector, events)).length, 0);
  });
});

void describe("temporal_ordered", () => {
  void test("fires when the rules match in the listed order", () => {
    const { detector } = setup([...RECON_RULES, TEMPORAL_ORDERED]);
    const hits = correlationAlerts(run(detector, recon("abc", [0, MINUTE, 2 * MINUTE])));
    assert.equal(hits.length, 1);
    assert.equal(hits[0]!.value, 3);
    assert.deepEqual(
      hits[0]!.matches.map((m) => m.title),
      ["Recon command 0", "Recon command 1", "Recon command 2"],
    );
  });

  void test("the wrong order does not fire; a later chain in order does, despite an earlier out-of-order event", () => {
    const { detector } = setup([...RECON_RULES, TEMPORAL_ORDERED]);
    assert.equal(correlationAlerts(run(detector, recon("cba", [0, SECOND, 2 * SECOND]))).length, 0);
    const hits = correlationAlerts(run(detector, recon("bac", [HOUR, HOUR + SECOND, HOUR + 2 * SECOND])));
    assert.equal(hits.length, 0, "b came before a");
    const later = correlationAlerts(run(detector, recon("bc", [HOUR + 3 * SECOND, HOUR + 4 * SECOND])));
    assert.equal(later.length, 1, "a → b → c now exists within 5 minutes");
    assert.equal(later[0]!.firstTime, new Date(T0 + HOUR + SECOND).toISOString());
  });

  void test("the whole chain must fit in the timespan", () => {
    const { detector } = setup([...RECON_RULES, TEMPORAL_ORDERED]);
    assert.equal(correlationAlerts(run(detector, recon("abc", [0, 3 * MINUTE, 6 * MINUTE]))).length, 0);
  });
});

const WEBSITE_ACCESS = `
title: Website access
id: 2c9f4e7a-3b1d-4f6e-8a2c-9d0e1f2a3b4c
name: website_access
logsource:
    category: proxy
detection:
    selection:
        cs-method: POST
    condition: selection
`;

// Spec, "Value Sum (value_sum)".
const VALUE_SUM = `
title: Possible Exfiltration to Website
correlation:
    type: value_sum
    rules:
        - website_access
    group-by:
        - SourceIP
        - User
    timespan: 1h
    condition:
        field: bytes_sent
        gt: 1000000
`;

function posts(at: readonly number[], bytes: number | string, user = "alice"): Event[] {
  return at.map((t) => event(t, PROXY, { "cs-method": "POST", SourceIP: "10.1.1.1", User: user, bytes_sent: bytes }));
}

void describe("value_sum", () => {
  void test("fires when the sum goes over the limit within the hour", () => {
    const { detector } = setup([WEBSITE_ACCESS, VALUE_SUM]);
    const results = run(detector, posts([0, 10 * MINUTE, 20 * MINUTE], "400000"));
    const hits = correlationAlerts(results);
    assert.equal(hits.length, 1);
    assert.equal(hits[0]!.value, 1_200_000);
    assert.equal(hits[0]!.correlationId, "Possible Exfiltration to Website", "no id: the title names it");
    assert.equal(results[2]!.correlationMatches.length, 1, "on the third upload");
  });

  void test("under the limit, spread over more than an hour, or split by user, it does not", () => {
    const { detector } = setup([WEBSITE_ACCESS, VALUE_SUM]);
    const events = [
      ...posts([0, MINUTE], 500_000),
      ...posts([2 * HOUR, 2 * HOUR + 40 * MINUTE, 3 * HOUR + 20 * MINUTE], 400_000),
      ...posts([5 * HOUR], 600_000, "bob"),
      ...posts([5 * HOUR + MINUTE], 600_000, "carol"),
      ...posts([5 * HOUR + 2 * MINUTE], "n/a", "bob"),
    ];
    assert.equal(correlationAlerts(run(detector, events)).length, 0);
  });
});

const RULE_A = `
title: Outbound connection
id: rule_a_id
logsource:
    product: windows
    category: network_connection
detection:
    selection:
        Initiated: 'true'
    condition: selection
`;

// Spec, "Value Average (value_avg)".
const VALUE_AVG = `
title: Suspicious average network traffic
correlation:
    type: value_avg
    rules:
        - rule_a_id
    group-by:
        - SourceIP
        - User
    timespan: 24h
    condition:
        field: BytesOut
        gt: 500
`;

void describe("value_avg", () => {
  const NET: Logsource = { product: "windows", category: "network_connection" };
  const conn = (at: number, bytes: number, user: string): Event =>
    event(at, NET, { Initiated: "true", SourceIP: "10.0.0.9", User: user, BytesOut: bytes });

  void test("decided over the closed day: an average over 500 fires, one under it does not", () => {
    const { detector } = setup([RULE_A, VALUE_AVG]);
    const results = run(detector, [
      conn(0, 900, "alice"),
      conn(HOUR, 300, "alice"),
      conn(2 * HOUR, 700, "alice"),
      conn(0, 900, "bob"),
      conn(HOUR, 100, "bob"),
    ]);
    assert.equal(correlationAlerts(results).length, 0, "an average over part of the window is not the rule's");
    // The next event after the day closes alice's and bob's windows.
    const next = detector.detect(conn(25 * HOUR, 10, "carol"));
    const hits = correlationAlerts([next]);
    assert.equal(hits.length, 1);
    assert.deepEqual(hits[0]!.group, { SourceIP: "10.0.0.9", User: "alice" });
    assert.ok(Math.abs(hits[0]!.value - 633.33) < 0.01);
    assert.equal(hits[0]!.matches.length, 3);
    assert.equal(correlationAlerts([detector.flush()]).length, 0, "carol's 10 bytes stay under");
  });
});

const PROCESS_CREATION = `
title: Any process creation
id: 4a2b6c8d-1e3f-4a5b-8c7d-9e0f1a2b3c4d
name: process_creation
logsource:
    product: windows
    category: process_creation
detection:
    selection:
        Image|endswith: '.exe'
    condition: selection
`;

// Spec, "Value Percentile (value_percentile)".
const VALUE_PERCENTILE = `
title: A computer spawned a processes name in the last 24h than 1% of all the processes.
correlation:
    type: value_percentile
    rules:
        - process_creation
    group-by:
        - ComputerName
    timespan: 24h
    condition:
        field: Image
        lte: 1
`;

void describe("value_percentile", () => {
  const spawn = (at: number, image: string, computer = "WS1"): Event =>
    event(at, PROCESS, { Image: image, ComputerName: computer });

  void test("a process name making up at most 1% of a computer's processes, over the closed day", () => {
    const { detector } = setup([PROCESS_CREATION, VALUE_PERCENTILE]);
    const events: Event[] = [];
    for (let i = 0; i < 150; i++) events.push(spawn(i * MINUTE, "C:\\Windows\\explorer.exe"));
    events.push(spawn(151 * MINUTE, "C:\\Users\\Public\\rare.exe"));
    // WS2: the same rare process, but 1 of 51 (1.96%).
    for (let i = 0; i < 50; i++) events.push(spawn(i * MINUTE, "C:\\Windows\\explorer.exe", "WS2"));
    events.push(spawn(60 * MINUTE, "C:\\Users\\Public\\rare.exe", "WS2"));
    assert.equal(correlationAlerts(run(detector, events)).length, 0, "decided when the window closes");
    const hits = correlationAlerts([detector.flush()]);
    assert.equal(hits.length, 1);
    const hit = hits[0]!;
    assert.deepEqual(hit.group, { ComputerName: "WS1" });
    assert.deepEqual(hit.values, { Image: "C:\\Users\\Public\\rare.exe" });
    assert.ok(Math.abs(hit.value - 100 / 151) < 1e-9);
    assert.equal(hit.matches.length, 1);
  });
});

// Spec, "Field Name Aliases Example" (the base rules get the title and logsource the excerpt leaves out).
const ALIAS_RULES = [
  `
title: Internal server error
name: internal_error
logsource:
    category: webserver
detection:
    selection:
        http.response.status_code: 500
    condition: selection
`,
  `
title: New network connection
name: new_network_connection
logsource:
    category: network_connection
detection:
    selection:
        event.category: network
        event.type: connection
        event.outcome: success
    condition: selection
`,
];
const ALIASES = `
title: Error followed by a connection back
id: 1d3e5f7a-9b2c-4d6e-8f0a-1b3c5d7e9f2a
correlation:
    type: temporal
    rules:
        - internal_error
        - new_network_connection
    group-by:
        - internal_ip
        - remote_ip
    timespan: 10s
    aliases:
        internal_ip:
            internal_error: destination.ip
            new_network_connection: source.ip
        remote_ip:
            internal_error: source.ip
            new_network_connection: destination.ip
`;

void describe("aliases", () => {
  const error = (at: number, server: string, client: string): Event =>
    event(
      at,
      { category: "webserver" },
      {
        "http.response.status_code": 500,
        "destination.ip": server,
        "source.ip": client,
      },
    );
  const connection = (at: number, from: string, to: string): Event =>
    event(
      at,
      { category: "network_connection" },
      {
        "event.category": "network",
        "event.type": "connection",
        "event.outcome": "success",
        "source.ip": from,
        "destination.ip": to,
      },
    );

  void test("groups by each rule's own field for the same address", () => {
    const { detector, diagnostics } = setup([...ALIAS_RULES, ALIASES]);
    assert.deepEqual(diagnostics, []);
    const hits = correlationAlerts(
      run(detector, [error(0, "10.0.0.5", "203.0.113.9"), connection(5 * SECOND, "10.0.0.5", "203.0.113.9")]),
    );
    assert.equal(hits.length, 1);
    assert.deepEqual(hits[0]!.group, { internal_ip: "10.0.0.5", remote_ip: "203.0.113.9" });
  });

  void test("the same fields without the alias mapping, or too late, do not fire", () => {
    const { detector } = setup([...ALIAS_RULES, ALIASES]);
    const events = [
      error(0, "10.0.0.5", "203.0.113.9"),
      connection(SECOND, "203.0.113.9", "10.0.0.5"),
      error(HOUR, "10.0.0.6", "203.0.113.7"),
      connection(HOUR + 11 * SECOND, "10.0.0.6", "203.0.113.7"),
    ];
    assert.equal(correlationAlerts(run(detector, events)).length, 0);
  });
});

// Spec, "Example: Failed Logins Followed by Successful Login" (complete, as one multi-document file).
const CHAIN = `title: Correlation - Multiple Failed Logins Followed by Successful Login
id: b180ead8-d58f-40b2-ae54-c8940995b9b6
status: experimental
description: Detects multiple failed logins by a single user followed by a successful login of that user
references:
    - https://reference.com
author: Florian Roth (Nextron Systems)
date: 2023-06-16
correlation:
    type: temporal_ordered
    rules:
        - multiple_failed_login
        - successful_login
    group-by:
        - User
    timespan: 10m
falsepositives:
    - Unlikely
level: high
---
title: Multiple failed logons
id: a8418a5a-5fc4-46b5-b23b-6c73beb19d41
description: Detects multiple failed logins within a certain amount of time
name: multiple_failed_login
correlation:
    type: event_count
    rules:
        - failed_login
    group-by:
        - User
    timespan: 10m
    condition:
        gte: 10
---
title: Single failed login
id: 53ba33fd-3a50-4468-a5ef-c583635cfa92
name: failed_login
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID:
            - 529
            - 4625
    condition: selection
---
title: Successful login
id: 4d0a2c83-c62c-4ed4-b475-c7e23a9269b8
description: Detects a successful login
name: successful_login
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID:
            - 528
            - 4624
    condition: selection
`;

void describe("chaining", () => {
  const logon = (at: number, id: number, user: string, computer = "DC1"): Event =>
    event(at, SECURITY, { EventID: id, User: user, ComputerName: computer });

  void test("ten failures then a success by the same user: one alert, from the outermost correlation", () => {
    const { detector, diagnostics } = setup([CHAIN]);
    assert.deepEqual(diagnostics, []);
    const events = Array.from({ length: 10 }, (_, i) => logon(i * 20 * SECOND, 4625, "alice", `DC${i % 3}`));
    events.push(logon(5 * MINUTE, 4624, "alice"));
    const results = run(detector, events);
    assert.equal(ruleAlerts(results), 0, "the base rules only feed the correlations");
    const inner = results.flatMap((r) => r.correlationMatches).filter((m) => m.title === "Multiple failed logons");
    assert.equal(inner.length, 1, "the inner correlation fires…");
    const alerts = correlationAlerts(results);
    assert.equal(alerts.length, 1, "…but only the outer one is an alert");
    const hit = alerts[0]!;
    assert.equal(hit.correlationId, "b180ead8-d58f-40b2-ae54-c8940995b9b6");
    assert.equal(hit.level, "high");
    assert.equal(hit.author, "Florian Roth (Nextron Systems)");
    assert.deepEqual(hit.group, { User: "alice" });
    assert.equal(hit.correlations.length, 1);
    assert.equal(hit.correlations[0]!.value, 10);
    assert.equal(hit.matches.length, 1);
    assert.equal(hit.matches[0]!.title, "Successful login");
    assert.equal(hit.firstTime, new Date(T0 + 9 * 20 * SECOND).toISOString());
  });

  void test("nine failures, a success first, or another user's success do not fire", () => {
    const { detector } = setup([CHAIN]);
    const events = [
      ...Array.from({ length: 9 }, (_, i) => logon(i * SECOND, 4625, "alice")),
      logon(MINUTE, 4624, "alice"),
      logon(HOUR, 4624, "bob"),
      ...Array.from({ length: 10 }, (_, i) => logon(HOUR + (i + 1) * SECOND, 4625, "bob")),
      ...Array.from({ length: 10 }, (_, i) => logon(2 * HOUR + i * SECOND, 529, "carol")),
      logon(2 * HOUR + MINUTE, 4624, "dave"),
    ];
    const results = run(detector, events);
    assert.equal(correlationAlerts(results).length, 0);
    assert.equal(results.flatMap((r) => r.correlationMatches).length, 2, "bob's and carol's failures did count");
  });
});

void test("CorrelationEngine.observe returns the hits a match causes, chained ones included", () => {
  const load = loadRules([{ path: "chain.yml", text: CHAIN }]);
  const engine = new CorrelationEngine(load.correlations, load.rules);
  const ruleset = new Ruleset(load.rules);
  const observe = (e: Event) => ruleset.match(e).flatMap((m) => engine.observe(m));
  for (let i = 0; i < 9; i++) assert.deepEqual(observe(event(i * SECOND, SECURITY, { EventID: 4625, User: "u" })), []);
  assert.deepEqual(
    observe(event(9 * SECOND, SECURITY, { EventID: 4625, User: "u" })).map((h) => h.type),
    ["event_count"],
  );
  const hits = observe(event(10 * SECOND, SECURITY, { EventID: 4624, User: "u" }));
  assert.deepEqual(
    hits.map((h) => [h.type, h.group]),
    [["temporal_ordered", { User: "u" }]],
  );
  assert.equal(engine.standsAlone(hits[0]!), true);
  assert.equal(engine.standsAlone(hits[0]!.correlations[0]!), false);
  assert.equal(engine.stats().fired, 2);
});

void describe("generate", () => {
  void test("default (false): the referenced rule raises no alert of its own; true: it does", () => {
    const events = () => failedLogons(3, SECOND, { ComputerName: "DC1" });
    const quiet = setup([FAILED_LOGIN_RULE, EVENT_COUNT]);
    const results = run(quiet.detector, events());
    assert.equal(ruleAlerts(results), 0);
    assert.equal(results.flatMap((r) => r.ruleMatches).length, 3, "the matches still happen");

    const loud = setup([FAILED_LOGIN_RULE, `${EVENT_COUNT}generate: true\n`]);
    assert.equal(ruleAlerts(run(loud.detector, events())), 3);
  });

  void test("a chained correlation with generate: true makes the inner correlation an alert too", () => {
    const { detector } = setup([CHAIN.replace("level: high\n", "level: high\ngenerate: true\n")]);
    const events = Array.from({ length: 10 }, (_, i) => event(i * SECOND, SECURITY, { EventID: 4625, User: "eve" }));
    const results = run(detector, events);
    assert.deepEqual(
      correlationAlerts(results).map((h) => h.title),
      ["Multiple failed logons"],
    );
    assert.equal(ruleAlerts(results), 0, "the inner correlation does not generate its own rules");
  });
});

void describe("diagnostics", () => {
  void test("an unknown rule is an error at its line; the correlation does not run, the rules it names stand alone", () => {
    const text = `${EVENT_COUNT.trimStart()}`.replace(
      "        - 5638f7c0-ac70-491d-8465-2a65075e0d86\n",
      "        - 5638f7c0-ac70-491d-8465-2a65075e0d86\n        - no_such_rule\n",
    );
    const { detector, diagnostics } = setup([FAILED_LOGIN_RULE, text]);
    assert.equal(diagnostics.length, 1);
    const d = diagnostics[0]!;
    assert.equal(d.code, "R3_CORR_UNKNOWN_RULE");
    assert.equal(d.severity, "error");
    assert.equal(d.file, "mem/1.yml");
    assert.equal(d.rule, "0e95725d-7320-415d-80f7-004da920fc11");
    assert.deepEqual([d.line, d.col], [7, 11], "the line of `- no_such_rule`");
    const results = run(detector, failedLogons(120, SECOND, { ComputerName: "DC1" }));
    assert.equal(correlationAlerts(results).length, 0);
    assert.equal(ruleAlerts(results), 120, "fail open: better noisy than blind");
    assert.equal(detector.correlations.stats().disabled, 1);
  });

  void test("a loop of correlations is an error for each; one that names a looping one does not run", () => {
    const corr = (id: string, name: string, refs: readonly string[]) => `title: ${name}
id: ${id}
name: ${name}
correlation:
    type: event_count
    rules:
${refs.map((r) => `        - ${r}\n`).join("")}    group-by:
        - User
    timespan: 1h
    condition:
        gte: 2
`;
    const text = [
      corr("c1", "one", ["two"]),
      corr("c2", "two", ["one", "failed_logon"]),
      corr("c3", "three", ["one"]),
      corr("c4", "self", ["self"]),
    ].join("---\n");
    const { diagnostics } = setup([FAILED_LOGIN_RULE, text]);
    assert.deepEqual(
      diagnostics.map((d) => [d.code, d.rule, d.severity, d.line, d.col]),
      [
        ["R3_CORR_CYCLE", "c1", "error", 7, 11],
        ["R3_CORR_CYCLE", "c2", "error", 20, 11],
        ["R3_CORR_DEPENDENCY_DISABLED", "c3", "error", 34, 11],
        ["R3_CORR_CYCLE", "c4", "error", 47, 11],
      ],
      "each at the `rules` item that closes the loop",
    );
    assert.match(diagnostics[0]!.message, /'one' → 'two' → 'one'/);
  });

  void test("an alias that maps a rule the correlation does not name is a warning", () => {
    const text = ALIASES.replace(
      "            new_network_connection: source.ip\n",
      "            new_connection: source.ip\n",
    );
    const { diagnostics } = setup([...ALIAS_RULES, text]);
    assert.deepEqual(
      diagnostics.map((d) => [d.code, d.severity, d.line]),
      [["R3_CORR_ALIAS_UNKNOWN_RULE", "warning", 16]],
    );
  });

  void test("construction never throws on what the reader accepts, and names rules by id or name", () => {
    const engine = new CorrelationEngine([], []);
    assert.deepEqual(engine.diagnostics, []);
    const { diagnostics } = setup([
      FAILED_LOGIN_RULE,
      EVENT_COUNT.replace("- 5638f7c0-ac70-491d-8465-2a65075e0d86", "- failed_logon"),
    ]);
    assert.deepEqual(diagnostics, []);
  });
});

void describe("event time", () => {
  const BOTH = `
title: Recon pair
correlation:
    type: event_count
    rules:
        - recon_cmd_a
        - recon_cmd_b
    group-by:
        - User
    timespan: 5m
    condition:
        gte: 2
`;

  void test("one event matching two referenced rules counts once", () => {
    const { detector } = setup([...RECON_RULES, BOTH]);
    const both = (at: number) => event(at, PROCESS, { CommandLine: "whoami & net user", User: "alice" });
    const first = detector.detect(both(0));
    assert.equal(first.ruleMatches.length, 2);
    assert.equal(first.correlationMatches.length, 0);
    assert.equal(correlationAlerts([detector.detect(both(SECOND))]).length, 1);
  });

  void test("events out of order count inside the window; one older than it is late; a bad time is counted", () => {
    const { detector } = setup([...RECON_RULES, BOTH]);
    run(detector, recon("a", [10 * MINUTE]));
    assert.equal(correlationAlerts(run(detector, recon("b", [2 * MINUTE]))).length, 0, "8 minutes earlier: late");
    assert.equal(correlationAlerts(run(detector, recon("b", [7 * MINUTE]))).length, 1, "3 minutes earlier: counts");
    detector.detect({ ...recon("a", [0])[0]!, time: "yesterday-ish" });
    const stats = detector.correlations.stats();
    assert.equal(stats.late, 1);
    assert.equal(stats.badTime, 1);
  });
});

void describe("bounded memory", () => {
  void test("groups per correlation and events per group are capped; evictions are counted", () => {
    const { detector, diagnostics } = setup([FAILED_LOGIN_RULE, EVENT_COUNT], {
      correlation: { maxGroups: 100, maxEventsPerGroup: 50 },
    });
    assert.deepEqual(
      diagnostics.map((d) => d.code),
      ["R3_CORR_UNREACHABLE"],
      "gte 100 cannot be met with 50 events per group",
    );
    for (let i = 0; i < 5000; i++) {
      detector.detect(event(i * 100, SECURITY, { EventID: 4625, ComputerName: `PC${i}` }));
    }
    for (let i = 0; i < 500; i++)
      detector.detect(event(500 * SECOND + i, SECURITY, { EventID: 4625, ComputerName: "DC1" }));
    const stats = detector.correlations.stats();
    assert.ok(stats.groups <= 100, `${stats.groups} groups`);
    assert.ok(stats.events <= 100 * 50, `${stats.events} events`);
    assert.equal(stats.groupsEvicted, 4901);
    assert.equal(stats.eventsEvicted, 450);
  });

  void test("idle groups are forgotten once event time leaves them a timespan behind", () => {
    const { detector } = setup([FAILED_LOGIN_RULE, EVENT_COUNT]);
    run(detector, failedLogons(10, SECOND, { ComputerName: "DC1" }));
    assert.equal(detector.correlations.stats().groups, 1);
    detector.advance(T0 + 2 * HOUR);
    assert.equal(detector.correlations.stats().groups, 0);
    assert.equal(detector.correlations.stats().groupsEvicted, 0);
  });
});

void test("every example in the specification's examples/correlation loads without errors", (t) => {
  const shared = sharedDataDir();
  const dir = shared === undefined ? undefined : join(shared, "sigma-specification", "examples", "correlation");
  if (dir === undefined || !existsSync(dir)) return t.skip(SHARED_DATA_MISSING);
  const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f));
  assert.ok(files.length >= 7);
  for (const file of files) {
    const text = readFileSync(join(dir, file), "utf8");
    const load = loadRules([{ path: file, text }]);
    assert.deepEqual(
      load.diagnostics.filter((d) => d.severity === "error"),
      [],
      file,
    );
    assert.ok(load.correlations.length >= 1, `${file} holds a correlation`);
    // The examples name rules they do not include: stand-ins make them whole.
    const refs = new Set(load.correlations.flatMap((c) => c.rules));
    const known = new Set(
      [...load.rules, ...load.correlations].flatMap((r) => ("rule" in r ? [r.rule.id, r.rule.name] : [r.id, r.name])),
    );
    const stubs = [...refs]
      .filter((r) => !known.has(r))
      .map(
        (r, i) => `title: Stand-in ${i}
${/^[0-9a-f]{8}-/.test(r) ? "id" : "name"}: ${r}
logsource:
    product: windows
detection:
    selection:
        EventID: ${i}
    condition: selection
`,
      );
    const whole = loadRules([{ path: file, text }, ...stubs.map((s, i) => ({ path: `stub${i}.yml`, text: s }))]);
    const { diagnostics } = createDetector(whole);
    assert.deepEqual(
      diagnostics.filter((d) => d.severity === "error"),
      [],
      file,
    );
  }
});
