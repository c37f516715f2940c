/**
 * The one envelope every part of ring3 shares: sensors emit it, the engine matches it, the server stores it.
 * Field names inside `fields` follow the Sigma taxonomy verbatim (`Image`, `CommandLine`, `TargetFilename`…),
 * so SigmaHQ rules run on it without a field mapping.
 */
export type Logsource = {
  readonly product?: string;
  readonly category?: string;
  readonly service?: string;
};

export type FieldValue =
  string | number | boolean | null | readonly FieldValue[] | { readonly [key: string]: FieldValue };

export type EventFields = Record<string, FieldValue>;

export type Event = {
  /** Unique per event; sensors use a host-scoped counter or a hash, EVTX uses file + record id. */
  readonly id: string;
  /** RFC 3339 / ISO 8601 UTC timestamp of when the event happened (not when it was read). */
  readonly time: string;
  /** Hostname (Windows `Computer`, Linux `uname -n`). */
  readonly host: string;
  readonly logsource: Logsource;
  readonly fields: EventFields;
  /** The source record as read (EVTX record object, audit lines…), kept for the analyst and for export. */
  readonly raw?: unknown;
};
