import { useSyncExternalStore } from "react";

export type Theme = "dark" | "light";
const KEY = "ring3.theme";
const listeners = new Set<() => void>();

/** Dark by default (SOC rooms are dim); the choice is remembered per browser. */
export function currentTheme(): Theme {
  return document.documentElement.dataset["theme"] === "light" ? "light" : "dark";
}

export function applyStoredTheme(): void {
  let stored: string | null = null;
  try {
    stored = localStorage.getItem(KEY);
  } catch {
    // Storage can be disabled; the default theme stays.
  }
  document.documentElement.dataset["theme"] = stored === "light" ? "light" : "dark";
}

export function setTheme(theme: Theme): void {
  document.documentElement.dataset["theme"] = theme;
  try {
    localStorage.setItem(KEY, theme);
  } catch {
    // Not remembered, still applied.
  }
  for (const listener of listeners) listener();
}

export function useTheme(): Theme {
  return useSyncExternalStore((listener) => {
    listeners.add(listener);
    return () => listeners.delete(listener);
  }, currentTheme);
}
