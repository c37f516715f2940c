/** One line of /proc/modules: `name size refcount deps state address [(taint)]`. */
export type KernelModuleEntry = {
  readonly name: string;
  readonly size: number;
  readonly refcount: number;
  /** Modules that use this one (the kernel's "deps" column lists users, not dependencies). */
  readonly usedBy: readonly string[];
  /** Live, Loading or Unloading. */
  readonly state: string;
  /** The module's own taint letters, e.g. "OE" for an out-of-tree unsigned module; "" when clean. */
  readonly taint: string;
};

export function parseProcModules(text: string): KernelModuleEntry[] {
  const out: KernelModuleEntry[] = [];
  for (const line of text.split("\n")) {
    const parts = line.trim().split(/\s+/);
    if (parts.length < 5 || parts[0] === "") continue;
    const [name, size, refcount, deps, state] = parts as [string, string, string, string, string];
    const taint = parts[6];
    out.push({
      name,
      size: Number(size),
      refcount: refcount === "-" ? 0 : Number(refcount),
      usedBy: deps === "-" ? [] : deps.split(",").filter((d) => d !== ""),
      state,
      taint: taint === undefined ? "" : taint.replace(/[()]/g, ""),
    });
  }
  return out;
}

/** Documentation/admin-guide/tainted-kernels.rst: bit → letter and meaning. */
export const TAINT_FLAGS: readonly { readonly bit: number; readonly letter: string; readonly meaning: string }[] = [
  { bit: 0, letter: "P", meaning: "proprietary module loaded" },
  { bit: 1, letter: "F", meaning: "module force loaded" },
  { bit: 2, letter: "S", meaning: "kernel running on an out of specification system" },
  { bit: 3, letter: "R", meaning: "module force unloaded" },
  { bit: 4, letter: "M", meaning: "processor reported a machine check exception" },
  { bit: 5, letter: "B", meaning: "bad page referenced or unexpected page flags" },
  { bit: 6, letter: "U", meaning: "taint requested by userspace" },
  { bit: 7, letter: "D", meaning: "kernel died recently (OOPS or BUG)" },
  { bit: 8, letter: "A", meaning: "ACPI table overridden by user" },
  { bit: 9, letter: "W", meaning: "kernel issued a warning" },
  { bit: 10, letter: "C", meaning: "staging driver loaded" },
  { bit: 11, letter: "I", meaning: "workaround for a platform firmware bug applied" },
  { bit: 12, letter: "O", meaning: "externally-built (out-of-tree) module loaded" },
  { bit: 13, letter: "E", meaning: "unsigned module loaded" },
  { bit: 14, letter: "L", meaning: "soft lockup occurred" },
  { bit: 15, letter: "K", meaning: "kernel live patched" },
  { bit: 16, letter: "X", meaning: "auxiliary taint (distribution-defined)" },
  { bit: 17, letter: "T", meaning: "kernel built with the struct randomization plugin" },
  { bit: 18, letter: "N", meaning: "in-kernel test run" },
  { bit: 19, letter: "J", meaning: "userspace used a mutating debug operation in fwctl" },
];

export type TaintFlag = { readonly bit: number; readonly letter: string; readonly meaning: string };

/** /proc/sys/kernel/tainted decoded; a bit newer than this table still shows, as `?` with its number. */
export function decodeTaint(value: number): TaintFlag[] {
  const out: TaintFlag[] = [];
  for (let bit = 0; bit < 32; bit++) {
    if (Math.floor(value / 2 ** bit) % 2 === 0) continue;
    out.push(TAINT_FLAGS.find((f) => f.bit === bit) ?? { bit, letter: "?", meaning: `unknown taint bit ${bit}` });
  }
  return out;
}

export type KernelInventoryChange =
  | { readonly kind: "module-loaded"; readonly module: KernelModuleEntry }
  | { readonly kind: "module-unloaded"; readonly name: string }
  | { readonly kind: "taint-changed"; readonly previous: number; readonly taint: number };

/**
 * What changed between two looks at the kernel. The first look is the baseline: every module loaded then is
 * trusted, any module seen later that was not loaded at start is reported as loaded (once per appearance: a
 * module unloaded and loaded again is reported again).
 */
export class KernelInventoryTracker {
  private baseline: Set<string> | undefined;
  private current = new Set<string>();
  private taint: number | undefined;

  get started(): boolean {
    return this.baseline !== undefined;
  }

  /** `modules` undefined: /proc/modules is absent (no module support), only taint is compared. */
  observe(modules: readonly KernelModuleEntry[] | undefined, taint: number | undefined): KernelInventoryChange[] {
    const changes: KernelInventoryChange[] = [];
    const names = new Set((modules ?? []).map((m) => m.name));
    if (this.baseline === undefined) this.baseline = names;
    else if (modules !== undefined) {
      for (const module of modules)
        if (!this.current.has(module.name) && !this.baseline.has(module.name))
          changes.push({ kind: "module-loaded", module });
      for (const name of this.current) if (!names.has(name)) changes.push({ kind: "module-unloaded", name });
    }
    if (modules !== undefined) this.current = names;
    if (taint !== undefined) {
      if (this.taint !== undefined && taint !== this.taint)
        changes.push({ kind: "taint-changed", previous: this.taint, taint });
      this.taint = taint;
    }
    return changes;
  }
}
