import { useMemo, useState } from "react";
import { Graph, layout, type EdgeLabel, type GraphLabel, type NodeLabel } from "@dagrejs/dagre";
import type { ProcessTreeNode } from "@ring3/protocol";
import { formatTime } from "../format.ts";
import { Facts } from "./ui.tsx";

const NODE_WIDTH = 260;
const NODE_HEIGHT = 58;

type Placed = { node: ProcessTreeNode; x: number; y: number };
type Edge = { from: number; to: number; points: { x: number; y: number }[] };

function basename(path: string | undefined): string {
  if (path === undefined || path === "") return "?";
  return path.split(/[\\/]/).pop() ?? path;
}

function placeAll(nodes: readonly ProcessTreeNode[]): {
  placed: Placed[];
  edges: Edge[];
  width: number;
  height: number;
} {
  const graph = new Graph<GraphLabel, NodeLabel, EdgeLabel>();
  graph.setGraph({ rankdir: "TB", nodesep: 24, ranksep: 36, marginx: 8, marginy: 8 });
  graph.setDefaultEdgeLabel(() => ({}));
  const byPid = new Map<number, ProcessTreeNode>();
  for (const node of nodes) {
    byPid.set(node.pid, node);
    graph.setNode(String(node.pid), { width: NODE_WIDTH, height: NODE_HEIGHT });
  }
  for (const node of nodes) {
    if (node.ppid !== undefined && node.ppid !== node.pid && byPid.has(node.ppid)) {
      graph.setEdge(String(node.ppid), String(node.pid));
    }
  }
  layout(graph);
  const placed: Placed[] = [];
  for (const node of nodes) {
    const label = graph.node(String(node.pid));
    if (label?.x !== undefined && label.y !== undefined) {
      placed.push({ node, x: label.x - NODE_WIDTH / 2, y: label.y - NODE_HEIGHT / 2 });
    }
  }
  const edges: Edge[] = graph.edges().map((e) => ({
    from: Number(e.v),
    to: Number(e.w),
    points: graph.edge(e)?.points ?? [],
  }));
  const size = graph.graph();
  return { placed, edges, width: size.width ?? 0, height: size.height ?? 0 };
}

/**
 * Lays the processes out top-down with dagre (parents above children) and draws them as HTML boxes over an
 * SVG of the edges dagre routed. Clicking a box shows its full command line.
 */
export function ProcessGraph({
  nodes,
  focusPid,
}: {
  nodes: readonly ProcessTreeNode[];
  focusPid?: number | undefined;
}) {
  const { placed, edges, width, height } = useMemo(() => placeAll(nodes), [nodes]);
  const [chosen, setChosen] = useState<number | undefined>(focusPid);
  const selected = nodes.find((n) => n.pid === chosen);
  if (nodes.length === 0) return <p className="empty">No process events recorded around this process.</p>;
  return (
    <div className="process-graph-wrap">
      <div className="process-graph" data-testid="process-tree" style={{ width, height }}>
        <svg width={width} height={height} aria-hidden="true">
          {edges.map((edge) => (
            <polyline
              key={`${edge.from}-${edge.to}`}
              points={edge.points.map((p) => `${p.x},${p.y}`).join(" ")}
              className="edge"
              markerEnd="url(#arrow)"
            />
          ))}
          <defs>
            <marker id="arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" markerHeight="7" orient="auto">
              <path d="M0,0 L8,4 L0,8 z" className="arrow" />
            </marker>
          </defs>
        </svg>
        {placed.map(({ node, x, y }) => {
          const classes = ["proc"];
          if (node.pid === focusPid) classes.push("focus");
          if (node.alertIds.length > 0) classes.push("alerted");
          if (node.pid === chosen) classes.push("chosen");
          if (node.endTime !== undefined) classes.push("ended");
          return (
            <button
              type="button"
              key={node.pid}
              className={classes.join(" ")}
              style={{ left: x, top: y, width: NODE_WIDTH, height: NODE_HEIGHT }}
              onClick={() => setChosen(node.pid)}
              title={node.commandLine ?? node.image ?? String(node.pid)}
            >
              <span className="proc-name">
                {basename(node.image)} <span className="muted">{node.pid}</span>
              </span>
              <span className="proc-cmd">{node.commandLine ?? node.image ?? ""}</span>
            </button>
          );
        })}
      </div>
      {selected !== undefined ? (
        <Facts
          items={[
            [
              "Process",
              `${selected.image ?? "?"} (pid ${selected.pid}${selected.ppid !== undefined ? `, parent ${selected.ppid}` : ""})`,
            ],
            ["Command line", <code key="cmd">{selected.commandLine ?? "—"}</code>],
            ["User", selected.user ?? "—"],
            ["Started", formatTime(selected.startTime)],
            ["Ended", selected.endTime !== undefined ? formatTime(selected.endTime) : "running"],
            [
              "Alerts",
              selected.alertIds.length > 0
                ? selected.alertIds.map((id) => (
                    <a key={id} href={`#/alerts/${encodeURIComponent(id)}`}>
                      {id}{" "}
                    </a>
                  ))
                : "none",
            ],
          ]}
        />
      ) : null}
    </div>
  );
}
