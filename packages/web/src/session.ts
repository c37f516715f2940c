import { createContext, useContext, useEffect, useRef, useState } from "react";
import { ROLES } from "@ring3/protocol";
import type { LiveMessage, Role, User } from "@ring3/protocol";
import type { LiveState, LiveStream } from "./api/live.ts";

export type Session = { readonly user: User; readonly live: LiveStream };

export const SessionContext = createContext<Session | undefined>(undefined);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (session === undefined) throw new Error("useSession outside a logged-in console");
  return session;
}

/** Roles are ordered: an admin may do what an analyst may, an analyst what a viewer may. */
export function hasRole(user: User, role: Role): boolean {
  return ROLES.indexOf(user.role) >= ROLES.indexOf(role);
}

/** Whether the logged-in user may use controls that need `role`; controls they may not use are not shown. */
export function useCan(role: Role): boolean {
  return hasRole(useSession().user, role);
}

/** Calls `listener` for every live message while the component is mounted. */
export function useLive(listener: (message: LiveMessage) => void): void {
  const { live } = useSession();
  // The latest listener (it closes over the latest state), without resubscribing on every render.
  const latest = useRef(listener);
  useEffect(() => {
    latest.current = listener;
  });
  useEffect(() => live.subscribe((message) => latest.current(message)), [live]);
}

export function useLiveState(): LiveState {
  const { live } = useSession();
  const [state, setState] = useState(live.state);
  useEffect(() => live.onState(setState), [live]);
  return state;
}
