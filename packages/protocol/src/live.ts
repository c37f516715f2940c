import { Type, type Static } from "typebox";
import { Alert } from "./alerts.ts";
import { Host } from "./agents.ts";
import { Command } from "./commands.ts";

/** What the console's live stream (`GET /api/v1/stream`, Server-Sent Events) pushes; `type` is the SSE event name. */
export const LiveMessage = Type.Union([
  Type.Object({ type: Type.Literal("alert"), alert: Alert }),
  Type.Object({ type: Type.Literal("host"), host: Host }),
  Type.Object({ type: Type.Literal("command"), command: Command }),
]);
export type LiveMessage = Static<typeof LiveMessage>;
