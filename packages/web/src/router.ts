import { useEffect, useState } from "react";

/**
 * Hash routes (`#/alerts/a1?x=y`): the server serves one index.html at `/`, and a reload or a shared link
 * needs no server-side fallback.
 */
export type Route = { readonly path: readonly string[]; readonly query: URLSearchParams };

function parse(hash: string): Route {
  const text = hash.replace(/^#/, "");
  const [path = "", query = ""] = text.split("?", 2);
  return {
    path: path
      .split("/")
      .filter((part) => part !== "")
      .map((part) => decodeURIComponent(part)),
    query: new URLSearchParams(query),
  };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parse(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parse(window.location.hash));
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return route;
}

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

export function navigate(target: string): void {
  window.location.hash = target.replace(/^#/, "");
}
