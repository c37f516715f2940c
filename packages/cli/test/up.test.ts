import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { loadSocketsAddon } from "../../agent/src/native.ts";
import { readAuditSnapshot } from "../../agent/src/sensors/audit/source.ts";
import { ConsoleApi, waitUntil } from "../../agent/test/link-harness.ts";
import { runCli } from "./cli-harness.ts";

/*
 * `ring3 up` as a user runs it: a real process that starts the server and a local agent (a child process),
 * checked through the console API with the password it printed, stopped with SIGTERM, started again on the
 * same data dir, and finally killed with SIGKILL to check that its agent does not outlive it.
 */

const RING3 = join(import.meta.dirname, "..", "bin", "ring3.js");

type Up = { child: ChildProcess; stdout(): string; stderr(): string; exited: Promise<number | null> };

/** `ring3 up` on `dataDir`, as this process's user or, with `asUser`, through setpriv as that uid/gid. */
/** The host's audit rules and settings, as root can read them (undefined otherwise). */
async function auditState(): Promise<unknown> {
  const load = loadSocketsAddon();
  if (process.getuid?.() !== 0 || !load.ok) return undefined;
  const { status, rules } = await readAuditSnapshot(load.addon);
  return { enabled: status.enabled, pid: status.pid, backlogLimit: status.backlogLimit, rules: [...rules].sort() };
}

function startUp(dataDir: string, asUser?: { uid: number; home: string }): Up {
  const args = [RING3, "up", "--data-dir", dataDir, "--port", "0"];
  const child =
    asUser === undefined
      ? spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] })
      : spawn(
          "setpriv",
          [`--reuid=${asUser.uid}`, `--regid=${asUser.uid}`, "--clear-groups", process.execPath, ...args],
          { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, HOME: asUser.home } },
        );
  let out = "";
  let err = "";
  child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
  child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString("utf8")));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Children of a process (the agent `ring3 up` started), from /proc. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const task of readdirSafe(`/proc/${pid}/task`)) {
    const text = readFileSafe(`/proc/${pid}/task/${task}/children`);
    for (const p of text.trim().split(/\s+/)) if (p !== "") out.push(Number(p));
  }
  return out;
}

function readdirSafe(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

const alive = (pid: number): boolean =>
  existsSync(`/proc/${pid}`) && !readFileSafe(`/proc/${pid}/stat`).includes(") Z ");

/** A failure says what `ring3 up` printed. */
async function explain<T>(up: Up, promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (error) {
    throw new Error(`${(error as Error).message}\n--- ring3 up stdout:\n${up.stdout()}\n--- stderr:\n${up.stderr()}`, {
      cause: error,
    });
  }
}

/** The console URL and the admin's one-time password, as the first start of `ring3 up` prints them. */
function printedLogin(up: Up): Promise<{ url: string; password: string }> {
  return explain(
    up,
    waitUntil(
      "ring3 up to print the login",
      () => {
        const url = /ring3 is up: (https:\/\/127\.0\.0\.1:\d+)\//.exec(up.stdout())?.[1];
        const password = /login: +admin \/ (\S+)/.exec(up.stdout())?.[1];
        return url !== undefined && password !== undefined ? { url, password } : undefined;
      },
      60_000,
    ),
  );
}

async function marker(name: string): Promise<void> {
  const child = spawn("/bin/sh", ["-c", "sleep 0.3", name], { stdio: "ignore" });
  await new Promise((resolve) => child.once("exit", resolve));
}

test("ring3 up: usage errors are reported with the usage", async () => {
  const result = await runCli(["up", "--port", "99999"]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /--port must be 0…65535/);
  assert.match(result.stderr, /Usage: ring3 up \[--data-dir <dir>\] \[--port <n>\]/);
});

test(
  "ring3 up: server, console login and a local agent; stops cleanly; the next start reuses everything",
  { timeout: 240_000 },
  async (t) => {
    const auditBefore = await auditState();
    const dataDir = mkdtempSync(join(tmpdir(), "ring3-up-"));
    const running: Up[] = [];
    t.after(async () => {
      for (const up of running) {
        if (up.child.exitCode === null && up.child.signalCode === null) {
          up.child.kill("SIGTERM");
          await up.exited;
        }
      }
      rmSync(dataDir, { recursive: true, force: true });
    });
    const runId = `ring3-up-${process.pid}-${Date.now()}`;

    // First start: the URL and the admin's password, printed once.
    let up = startUp(dataDir);
    running.push(up);
    const first = await printedLogin(up);
    assert.match(up.stdout(), /agent: +(all sensors \(running as root\)|reduced sensors: not running as root)/);
    assert.match(up.stdout(), new RegExp(`data: +${dataDir}`));
    const ca = readFileSync(join(dataDir, "server", "tls", "ca.pem"), "utf8");
    let api = await ConsoleApi.login(first.url, first.password, ca);
    // Online, with the sensors' states (the heartbeat after they started).
    const host = await explain(
      up,
      waitUntil(
        "the local agent's host online with its sensors",
        async () => {
          const hosts = await api.hosts();
          const h = hosts[0];
          return hosts.length === 1 && h?.state === "online" && h.sensors["proc-inventory"] !== undefined
            ? h
            : undefined;
        },
        60_000,
      ),
    );
    if (process.getuid?.() === 0) assert.equal(host.sensors["process-connector"]?.state, "started");
    await marker(`${runId}-a`);
    await waitUntil(
      "the first marker event",
      async () => {
        const got = await api.events(host.id, [{ field: "CommandLine", op: "contains", value: `${runId}-a` }]);
        return got.length > 0 ? true : undefined;
      },
      60_000,
    );
    // The agent's credential is private to it.
    assert.equal(statSync(join(dataDir, "agent", "link.json")).mode & 0o777, 0o600);
    api.close();

    // SIGTERM stops the agent first, then the server, and exits 0.
    const agentPid = childrenOf(up.child.pid!).find((pid) => readFileSafe(`/proc/${pid}/cmdline`).includes("agent"));
    assert.ok(agentPid !== undefined, "the agent runs as a child process");
    up.child.kill("SIGTERM");
    assert.equal(await up.exited, 0);
    assert.match(
      up.stderr(),
      /stopping the agent, then the server[\s\S]*\[agent\] .*stopped after \d+ events[\s\S]*ring3 up: stopped/,
    );
    assert.equal(alive(agentPid), false, "the agent is gone");

    // Second start: same data, no new admin, same host, no second enrollment.
    up = startUp(dataDir);
    running.push(up);
    const url2 = await waitUntil(
      "ring3 up to start again",
      () => /ring3 is up: (https:\/\/127\.0\.0\.1:\d+)\//.exec(up.stdout())?.[1],
      60_000,
    );
    await waitUntil("the admin notice", () => (/the admin account exists/.test(up.stdout()) ? true : undefined));
    assert.doesNotMatch(up.stdout(), /login: +admin \//);
    api = await ConsoleApi.login(url2, first.password, ca);
    t.after(() => api.close());
    await explain(
      up,
      waitUntil("the agent's sensors", () => (/\[agent\] running \(pid/.test(up.stderr()) ? true : undefined), 60_000),
    );
    await marker(`${runId}-b`);
    await explain(
      up,
      waitUntil(
        "the second marker event",
        async () => {
          const got = await api.events(host.id, [{ field: "CommandLine", op: "contains", value: `${runId}-b` }]);
          return got.length > 0 ? true : undefined;
        },
        60_000,
      ),
    );
    assert.deepEqual(
      (await api.hosts()).map((h) => h.id),
      [host.id],
    );

    // Killed outright, `ring3 up` leaves no agent behind: the agent notices its parent is gone and stops.
    const agent2 = childrenOf(up.child.pid!).find((pid) => readFileSafe(`/proc/${pid}/cmdline`).includes("agent"));
    assert.ok(agent2 !== undefined);
    up.child.kill("SIGKILL");
    await up.exited;
    await waitUntil("the orphaned agent to stop", () => (alive(agent2) ? undefined : true), 30_000);
    // It stopped cleanly although its output pipes broke with its parent: the host's audit state is restored.
    assert.deepEqual(await auditState(), auditBefore);
  },
);

const NOBODY = 65534;
const setprivMissing = ["/usr/bin/setpriv", "/bin/setpriv"].every((p) => !existsSync(p));

test(
  "ring3 up as an unprivileged user: the reduced sensor set with its reason; /proc polling still reports processes",
  {
    skip:
      process.getuid?.() !== 0
        ? "needs root to start ring3 up as another user"
        : setprivMissing
          ? "setpriv (util-linux) is missing"
          : false,
    timeout: 180_000,
  },
  async (t) => {
    // A home and a data dir the unprivileged user owns; the repository only has to be readable.
    const home = mkdtempSync(join(tmpdir(), "ring3-up-nobody-"));
    chmodSync(home, 0o755);
    chownSync(home, NOBODY, NOBODY);
    const dataDir = join(home, "data");
    const up = startUp(dataDir, { uid: NOBODY, home });
    t.after(async () => {
      if (up.child.exitCode === null && up.child.signalCode === null) {
        up.child.kill("SIGTERM");
        await up.exited;
      }
      rmSync(home, { recursive: true, force: true });
    });
    const first = await printedLogin(up);
    assert.match(up.stdout(), /agent: +reduced sensors: not running as root: .*CAP_NET_ADMIN/);
    const api = await ConsoleApi.login(
      first.url,
      first.password,
      readFileSync(join(dataDir, "server", "tls", "ca.pem"), "utf8"),
    );
    t.after(() => api.close());
    // The kernel sensors are degraded with the reason; the /proc inventory runs.
    const host = await explain(
      up,
      waitUntil(
        "the host online with the reduced sensors",
        async () => {
          const h = (await api.hosts())[0];
          return h?.state === "online" && h.sensors["proc-inventory"] !== undefined && h.sensors.audit !== undefined
            ? h
            : undefined;
        },
        60_000,
      ),
    );
    for (const sensor of ["process-connector", "audit", "fanotify", "sock-diag"]) {
      assert.equal(host.sensors[sensor]?.state, "degraded", sensor);
      assert.match(host.sensors[sensor]?.reason ?? "", /not running as root/, sensor);
    }
    assert.notEqual(host.sensors["proc-inventory"]?.state, "failed");
    // A process that lives longer than the polling interval is seen (`; :` keeps the shell from exec-ing sleep).
    const name = `ring3-up-nobody-${process.pid}-${Date.now()}`;
    const sleeper = spawn("/bin/sh", ["-c", "sleep 3; :", name], { stdio: "ignore" });
    const slept = new Promise((resolve) => sleeper.once("exit", resolve));
    await explain(
      up,
      waitUntil(
        "the polled process's event",
        async () => {
          const got = await api.events(host.id, [{ field: "CommandLine", op: "contains", value: name }]);
          return got.length > 0 ? true : undefined;
        },
        60_000,
      ),
    );
    await slept;
    up.child.kill("SIGTERM");
    assert.equal(await up.exited, 0);
  },
);
