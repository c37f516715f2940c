/** `href("alerts", id)` → `#/alerts/<id>`, each part encoded. */
export function href(...parts: readonly (string | number)[]): string {
  return `#/${parts.map((part) => encodeURIComponent(String(part))).join("/")}`;
}

export function withQuery(base: string, query: Record<string, string | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== "") search.set(key, value);
  const text = search.toString();
  return text === "" ? base : `${base}?${text}`;
}
