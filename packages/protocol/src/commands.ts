import { Type, type Static } from "typebox";
import { Id, IsoTime } from "./common.ts";
import { ActionResult, ResponseRequest } from "./response.ts";

/** Analyst → server: queue a response action for one host. */
export const CommandCreate = Type.Object(
  {
    request: ResponseRequest,
    timeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 86_400, default: 300 })),
    /** The alert the action answers, for the audit trail. */
    alertId: Type.Optional(Id),
  },
  { additionalProperties: false },
);
export type CommandCreate = Static<typeof CommandCreate>;

export const COMMAND_STATUSES = ["queued", "delivered", "succeeded", "failed", "timed_out"] as const;
export const CommandStatus = Type.Enum(COMMAND_STATUSES);
export type CommandStatus = Static<typeof CommandStatus>;

export const Command = Type.Object({
  id: Id,
  hostId: Id,
  request: ResponseRequest,
  status: CommandStatus,
  requestedBy: Type.String(),
  alertId: Type.Optional(Id),
  createdAt: IsoTime,
  deadline: IsoTime,
  deliveredAt: Type.Optional(IsoTime),
  completedAt: Type.Optional(IsoTime),
  result: Type.Optional(ActionResult),
});
export type Command = Static<typeof Command>;

/** Server → agent (long-poll answer): commands to run now, each to be answered before its deadline. */
export const AgentCommands = Type.Object({
  commands: Type.Array(Type.Object({ id: Id, request: ResponseRequest, deadline: IsoTime })),
});
export type AgentCommands = Static<typeof AgentCommands>;
