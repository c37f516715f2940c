import { Type, type Static } from "typebox";
import { Id, IsoTime } from "./common.ts";

/** viewer reads; analyst also triages and responds; admin also manages users, tokens, rules and the audit log. */
export const ROLES = ["viewer", "analyst", "admin"] as const;
export const Role = Type.Enum(ROLES);
export type Role = Static<typeof Role>;

export const User = Type.Object({ id: Id, username: Type.String(), role: Role, createdAt: IsoTime });
export type User = Static<typeof User>;

export const LoginRequest = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 128 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
  },
  { additionalProperties: false },
);
export type LoginRequest = Static<typeof LoginRequest>;
/** The session travels as an HttpOnly cookie; `token` is the same value for API clients (Bearer). */
export const LoginResponse = Type.Object({ user: User, token: Type.String(), expiresAt: IsoTime });
export type LoginResponse = Static<typeof LoginResponse>;

export const UserCreate = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 128, pattern: "^[A-Za-z0-9._@-]+$" }),
    password: Type.String({ minLength: 12, maxLength: 1024 }),
    role: Role,
  },
  { additionalProperties: false },
);
export type UserCreate = Static<typeof UserCreate>;

/** Every console action that changes something, and every response command, lands here. */
export const AuditEntry = Type.Object({
  id: Id,
  time: IsoTime,
  actor: Type.String(),
  action: Type.String(),
  target: Type.Optional(Type.String()),
  details: Type.Optional(Type.Unknown()),
});
export type AuditEntry = Static<typeof AuditEntry>;
