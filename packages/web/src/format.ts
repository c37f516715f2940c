import { ALERT_LEVELS } from "@ring3/protocol";
import type { AlertLevel, AlertStatus } from "@ring3/protocol";

const timeFormat = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hour12: false,
});

export function formatTime(iso: string | undefined): string {
  if (iso === undefined) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : timeFormat.format(date);
}

/** "3 min ago", for last-seen columns. */
export function formatAge(iso: string | undefined, now = Date.now()): string {
  if (iso === undefined) return "never";
  const seconds = Math.round((now - new Date(iso).getTime()) / 1000);
  if (!Number.isFinite(seconds)) return iso;
  if (seconds < 60) return `${Math.max(seconds, 0)} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86_400)} d ago`;
}

export const STATUS_LABELS: Record<AlertStatus, string> = {
  new: "New",
  in_progress: "In progress",
  resolved: "Resolved",
  false_positive: "False positive",
};

/** Most severe first, for sorting and legends. */
export const LEVELS_DESC: readonly AlertLevel[] = [...ALERT_LEVELS].reverse();

/** Chart colours per level; the table uses the same through CSS classes `level-<name>`. */
export const LEVEL_COLORS: Record<AlertLevel, string> = {
  critical: "#e5484d",
  high: "#f76b15",
  medium: "#ffc53d",
  low: "#3e9bf0",
  informational: "#8b8d98",
};

/** A value of an event field as text; objects (raw records) as compact JSON. */
export function fieldText(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  return JSON.stringify(value);
}
