import { readFile } from "node:fs/promises";
import type { Event, EventFields } from "@ring3/schema";
import type { NormaliseContext } from "../../normalise.ts";
import { linuxEvent } from "../../normalise.ts";
import type { KernelInventoryChange, KernelModuleEntry } from "./parse.ts";
import { decodeTaint, parseProcModules } from "./parse.ts";

/** Events of this service are ring3's own inventory of the kernel, not a sensor's view of a process. */
export const INVENTORY_SERVICE = "ring3-inventory";

/** Inventory event types that are alerts by themselves (the agent prints them as `"alert": true` lines). */
export const INVENTORY_ALERT_TYPES: ReadonlySet<string> = new Set([
  "KernelModuleLoadedAfterStart",
  "KernelTaintChanged",
]);

export type KernelSnapshot = {
  /** undefined: no /proc/modules (a kernel built without module support). */
  readonly modules: KernelModuleEntry[] | undefined;
  readonly taint: number | undefined;
};

export async function readKernelSnapshot(proc = "/proc"): Promise<KernelSnapshot> {
  const modules = await readFile(`${proc}/modules`, "utf8").then(parseProcModules, () => undefined);
  const taint = await readFile(`${proc}/sys/kernel/tainted`, "utf8").then(
    (text) => (/^\d+$/.test(text.trim()) ? Number(text.trim()) : undefined),
    () => undefined,
  );
  return { modules, taint };
}

type Ctx = Pick<NormaliseContext, "host" | "nextId">;

function inventoryEvent(ctx: Ctx, fields: EventFields): Event {
  return linuxEvent(ctx, { service: INVENTORY_SERVICE }, new Date().toISOString(), fields);
}

function moduleFields(module: KernelModuleEntry): EventFields {
  return {
    ModuleName: module.name,
    ModuleSize: module.size,
    ModuleState: module.state,
    ModuleTaint: module.taint,
    ModuleUsedBy: module.usedBy,
  };
}

function taintFields(taint: number): EventFields {
  const flags = decodeTaint(taint);
  return { Taint: taint, TaintFlags: flags.map((f) => f.letter).join(""), TaintReasons: flags.map((f) => f.meaning) };
}

/** The start inventory: one KernelModule event per loaded module and one KernelTaint event. */
export function kernelInventoryEvents(ctx: Ctx, snapshot: KernelSnapshot): Event[] {
  const out = (snapshot.modules ?? []).map((m) =>
    inventoryEvent(ctx, { EventType: "KernelModule", ...moduleFields(m) }),
  );
  if (snapshot.taint !== undefined)
    out.push(inventoryEvent(ctx, { EventType: "KernelTaint", ...taintFields(snapshot.taint) }));
  return out;
}

export function kernelChangeEvent(ctx: Ctx, change: KernelInventoryChange): Event {
  switch (change.kind) {
    case "module-loaded":
      return inventoryEvent(ctx, { EventType: "KernelModuleLoadedAfterStart", ...moduleFields(change.module) });
    case "module-unloaded":
      return inventoryEvent(ctx, { EventType: "KernelModuleUnloaded", ModuleName: change.name });
    case "taint-changed":
      return inventoryEvent(ctx, {
        EventType: "KernelTaintChanged",
        PreviousTaint: change.previous,
        PreviousTaintFlags: decodeTaint(change.previous)
          .map((f) => f.letter)
          .join(""),
        ...taintFields(change.taint),
      });
  }
}
