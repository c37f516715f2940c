import { useEffect, useState } from "react";
import { COMMAND_STATUSES } from "@ring3/protocol";
import type { Command, ResponseRequest } from "@ring3/protocol";
import { call } from "../api/client.ts";
import { formatTime } from "../format.ts";
import { useCan, useLive } from "../session.ts";
import { ConfirmDialog, ErrorNote } from "./ui.tsx";

const FINAL: ReadonlySet<Command["status"]> = new Set(
  COMMAND_STATUSES.filter((s) => s !== "queued" && s !== "delivered"),
);

/** `host:port` of this console, which the isolated agent must keep reaching to take the release command. */
function serverEndpoint(): string {
  const { hostname, port, protocol } = window.location;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return `${host}:${port !== "" ? port : protocol === "https:" ? "443" : "80"}`;
}

function describe(request: ResponseRequest): string {
  switch (request.action) {
    case "kill":
      return `Kill process ${request.pid}${request.tree === true ? " and its descendants" : ""}`;
    case "quarantine":
      return `Quarantine ${request.path}`;
    case "isolate":
      return `Isolate the host (still reachable: ${request.allow.join(", ") || "nothing"})`;
    case "release":
      return "Release the host from isolation";
    default:
      return request.action;
  }
}

/**
 * Response buttons for one host (and the process/file of an alert): each asks for confirmation, queues a
 * command, and shows it until the agent reports a result. Viewers do not see them.
 */
export function ResponseActions(props: {
  hostId: string;
  alertId?: string | undefined;
  pid?: number | undefined;
  startTime?: number | undefined;
  path?: string | undefined;
  isolated: boolean;
}) {
  const allowed = useCan("analyst");
  const [pending, setPending] = useState<ResponseRequest | undefined>(undefined);
  const [allow, setAllow] = useState(serverEndpoint);
  const [killTree, setKillTree] = useState(false);
  const [commands, setCommands] = useState<Command[]>([]);
  const [error, setError] = useState<unknown>(undefined);

  useLive((message) => {
    if (message.type !== "command") return;
    const update = message.command;
    setCommands((current) => current.map((c) => (c.id === update.id ? update : c)));
  });

  // The stream may be reconnecting; polling until every command is final keeps the result visible anyway.
  const open = commands.filter((c) => !FINAL.has(c.status)).map((c) => c.id);
  const openKey = open.join(",");
  useEffect(() => {
    if (openKey === "") return;
    const timer = setInterval(() => {
      for (const id of openKey.split(",")) {
        call("getCommand", { params: { id } }).then(
          (update) => setCommands((current) => current.map((c) => (c.id === update.id ? update : c))),
          () => undefined,
        );
      }
    }, 2000);
    return () => clearInterval(timer);
  }, [openKey]);

  if (!allowed) return null;

  const confirm = () => {
    if (pending === undefined) return;
    const request: ResponseRequest =
      pending.action === "isolate"
        ? { ...pending, allow: allow.split(/[\s,]+/).filter((s) => s !== "") }
        : pending.action === "kill"
          ? { ...pending, tree: killTree }
          : pending;
    setPending(undefined);
    setError(undefined);
    const body = props.alertId !== undefined ? { request, alertId: props.alertId } : { request };
    call("createCommand", { params: { id: props.hostId }, body }).then(
      (command) => setCommands((current) => [command, ...current]),
      (cause: unknown) => setError(cause),
    );
  };

  return (
    <div className="response">
      <div className="response-buttons">
        {props.pid !== undefined ? (
          <button
            type="button"
            className="danger"
            onClick={() =>
              setPending({
                action: "kill",
                pid: props.pid!,
                ...(props.startTime !== undefined ? { startTime: props.startTime } : {}),
              })
            }
          >
            Kill process {props.pid}
          </button>
        ) : null}
        {props.path !== undefined ? (
          <button
            type="button"
            className="danger"
            onClick={() => setPending({ action: "quarantine", path: props.path! })}
          >
            Quarantine {props.path.split("/").pop()}
          </button>
        ) : null}
        {props.isolated ? (
          <button type="button" onClick={() => setPending({ action: "release" })}>
            Release host
          </button>
        ) : (
          <button type="button" className="danger" onClick={() => setPending({ action: "isolate", allow: [] })}>
            Isolate host
          </button>
        )}
      </div>
      {pending !== undefined ? (
        <ConfirmDialog
          title="Confirm response action"
          confirmLabel={pending.action === "release" ? "Release" : "Run it"}
          danger={pending.action !== "release"}
          onConfirm={confirm}
          onCancel={() => setPending(undefined)}
        >
          <p>{pending.action === "isolate" ? "Isolate the host from the network." : describe(pending)}</p>
          {pending.action === "kill" ? (
            <label className="inline">
              <input type="checkbox" checked={killTree} onChange={(e) => setKillTree(e.target.checked)} />
              and every process it started
            </label>
          ) : null}
          {pending.action === "isolate" ? (
            <label>
              Keep reachable (host:port, comma-separated) — the server, so the host can be released
              <input value={allow} onChange={(e) => setAllow(e.target.value)} />
            </label>
          ) : null}
          <p className="muted">The command is queued for the agent and recorded in the audit log.</p>
        </ConfirmDialog>
      ) : null}
      <ErrorNote error={error} />
      {commands.length > 0 ? (
        <ul className="commands" aria-label="Response commands">
          {commands.map((command) => (
            <li key={command.id} className={`command command-${command.status}`} data-status={command.status}>
              <span className="command-what">{describe(command.request)}</span>
              <span className="badge">{command.status.replace("_", " ")}</span>
              {command.result !== undefined ? (
                <span className={command.result.ok ? "ok" : "error"}>
                  {command.result.message}
                  {command.result.code !== undefined ? ` (${command.result.code})` : ""}
                </span>
              ) : (
                <span className="muted">queued {formatTime(command.createdAt)}</span>
              )}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}
