/**
 * Which file paths become events: a path must start with one include prefix and with no exclude prefix.
 * Prefixes are compared by path component ("/tmp" covers "/tmp" and "/tmp/x", not "/tmpfoo").
 */
export type PathFilterOptions = {
  readonly include?: readonly string[];
  readonly exclude?: readonly string[];
};

const under = (path: string, prefix: string): boolean =>
  prefix === "/" || path === prefix || path.startsWith(prefix.endsWith("/") ? prefix : `${prefix}/`);

export class PathFilter {
  private readonly include: readonly string[];
  private readonly exclude: string[];

  constructor(options: PathFilterOptions = {}) {
    this.include = options.include ?? ["/"];
    this.exclude = [...(options.exclude ?? [])];
  }

  /** Adds an exclusion, e.g. the agent's own output file. */
  addExclude(prefix: string): void {
    if (!this.exclude.includes(prefix)) this.exclude.push(prefix);
  }

  accepts(path: string): boolean {
    return this.include.some((p) => under(path, p)) && !this.exclude.some((p) => under(path, p));
  }
}
