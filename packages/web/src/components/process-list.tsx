import { useMemo } from "react";
import type { ProcessTreeNode } from "@ring3/protocol";
import { href } from "../router.ts";

type Row = { node: ProcessTreeNode; depth: number };

/** Depth-first order with depths: parents before children, siblings by pid. */
function flatten(nodes: readonly ProcessTreeNode[]): Row[] {
  const pids = new Set(nodes.map((n) => n.pid));
  const children = new Map<number, ProcessTreeNode[]>();
  const roots: ProcessTreeNode[] = [];
  for (const node of nodes) {
    if (node.ppid !== undefined && node.ppid !== node.pid && pids.has(node.ppid)) {
      const list = children.get(node.ppid) ?? [];
      list.push(node);
      children.set(node.ppid, list);
    } else roots.push(node);
  }
  const rows: Row[] = [];
  const seen = new Set<number>();
  // An explicit stack: a deep chain of processes must not exhaust the call stack.
  const stack: Row[] = roots.sort((a, b) => b.pid - a.pid).map((node) => ({ node, depth: 0 }));
  while (stack.length > 0) {
    const row = stack.pop()!;
    if (seen.has(row.node.pid)) continue;
    seen.add(row.node.pid);
    rows.push(row);
    const kids = (children.get(row.node.pid) ?? []).sort((a, b) => b.pid - a.pid);
    for (const kid of kids) stack.push({ node: kid, depth: row.depth + 1 });
  }
  return rows;
}

/** A host's whole process tree as an indented list (a graph of hundreds of processes reads worse). */
export function ProcessList({ nodes, empty }: { nodes: readonly ProcessTreeNode[]; empty?: string }) {
  const rows = useMemo(() => flatten(nodes), [nodes]);
  if (rows.length === 0) return <p className="empty">{empty ?? "No process events recorded."}</p>;
  return (
    <ul className="process-list" data-testid="process-list">
      {rows.map(({ node, depth }) => (
        <li
          key={node.pid}
          style={{ paddingLeft: `${depth * 1.1}rem` }}
          className={node.alertIds.length > 0 ? "alerted" : undefined}
        >
          <span className="pid">{node.pid}</span> <code>{node.commandLine ?? node.image ?? "?"}</code>
          {node.user !== undefined ? <span className="muted"> {node.user}</span> : null}
          {node.alertIds.map((id) => (
            <a key={id} className="badge level-high" href={href("alerts", id)}>
              alert
            </a>
          ))}
        </li>
      ))}
    </ul>
  );
}
