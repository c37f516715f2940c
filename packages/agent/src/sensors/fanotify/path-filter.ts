/**
 * Which file paths become events: a path must start with one include prefix and with no exclude prefix.
 * Prefixes are compared by path component ("/tmp" covers "/tmp" and "/tmp/x", not "/tmpfoo").
 */
export type PathFilterOptions = {
  readonly include?: readonly string[];
  readonly exclude?: readonly string[];
};

/** A prefix as compared: itself, and with the separator that must follow it in a longer path. */
type Prefix = { readonly path: string; readonly dir: string };

const prefix = (path: string): Prefix => ({ path, dir: path.endsWith("/") ? path : `${path}/` });

// Every file event meets the filter: the prefixes are prepared once, and the loops allocate nothing.
function anyUnder(path: string, prefixes: readonly Prefix[]): boolean {
  for (const p of prefixes) if (p.path === "/" || path === p.path || path.startsWith(p.dir)) return true;
  return false;
}

export class PathFilter {
  private readonly include: readonly Prefix[];
  private readonly exclude: Prefix[];

  constructor(options: PathFilterOptions = {}) {
    this.include = (options.include ?? ["/"]).map(prefix);
    this.exclude = (options.exclude ?? []).map(prefix);
  }

  /** Adds an exclusion, e.g. the agent's own output file. */
  addExclude(path: string): void {
    if (!this.exclude.some((p) => p.path === path)) this.exclude.push(prefix(path));
  }

  accepts(path: string): boolean {
    return anyUnder(path, this.include) && !anyUnder(path, this.exclude);
  }
}
