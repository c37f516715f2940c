import { lazy, Suspense, useEffect, useMemo, useState, type ReactNode } from "react";
import type { Role, User } from "@ring3/protocol";
import { call, setUnauthorizedHandler } from "./api/client.ts";
import { LiveStream } from "./api/live.ts";
import { ErrorNote, Loading } from "./components/ui.tsx";
import { LoginPage } from "./pages/login.tsx";
import { href, useRoute, type Route } from "./router.ts";
import { hasRole, SessionContext, useLiveState, useSession } from "./session.ts";
import { setTheme, useTheme } from "./theme.ts";

// Pages load on first visit: the login page and the shell are all a first load downloads.
const OverviewPage = lazy(() => import("./pages/overview.tsx"));
const AlertsPage = lazy(() => import("./pages/alerts.tsx"));
const AlertDetailPage = lazy(() => import("./pages/alert-detail.tsx"));
const HostsPage = lazy(() => import("./pages/hosts.tsx"));
const HostDetailPage = lazy(() => import("./pages/host-detail.tsx"));
const TimelinePage = lazy(() => import("./pages/timeline.tsx"));
const SearchPage = lazy(() => import("./pages/search.tsx"));
const RulesPage = lazy(() => import("./pages/rules.tsx"));
const AttackPage = lazy(() => import("./pages/attack.tsx"));
const AuditPage = lazy(() => import("./pages/audit.tsx"));
const AccessPage = lazy(() => import("./pages/access.tsx"));

type NavItem = { readonly path: string; readonly label: string; readonly role: Role };
const NAV: readonly NavItem[] = [
  { path: "", label: "Overview", role: "viewer" },
  { path: "alerts", label: "Alerts", role: "viewer" },
  { path: "hosts", label: "Hosts", role: "viewer" },
  { path: "search", label: "Search", role: "viewer" },
  { path: "rules", label: "Rules", role: "admin" },
  { path: "attack", label: "ATT&CK", role: "viewer" },
  { path: "audit", label: "Audit log", role: "admin" },
  { path: "access", label: "Access", role: "admin" },
];

/** The page for a route, and the role it needs (pages above the user's role are not rendered at all). */
function page(route: Route): { role: Role; node: ReactNode } {
  const [section = "", id, sub] = route.path;
  switch (section) {
    case "":
      return { role: "viewer", node: <OverviewPage /> };
    case "alerts":
      return { role: "viewer", node: id === undefined ? <AlertsPage /> : <AlertDetailPage id={id} /> };
    case "hosts":
      if (id === undefined) return { role: "viewer", node: <HostsPage /> };
      if (sub === "timeline") {
        return {
          role: "viewer",
          node: (
            <TimelinePage
              hostId={id}
              at={route.query.get("at") ?? undefined}
              eventId={route.query.get("event") ?? undefined}
            />
          ),
        };
      }
      return { role: "viewer", node: <HostDetailPage id={id} /> };
    case "search":
      return { role: "viewer", node: <SearchPage /> };
    case "rules":
      return { role: "admin", node: <RulesPage /> };
    case "attack":
      return { role: "viewer", node: <AttackPage /> };
    case "audit":
      return { role: "admin", node: <AuditPage /> };
    case "access":
      return { role: "admin", node: <AccessPage /> };
    default:
      return { role: "viewer", node: <p className="empty">There is no page here.</p> };
  }
}

function Shell({ onLogout }: { onLogout: () => void }) {
  const { user } = useSession();
  const route = useRoute();
  const theme = useTheme();
  const liveState = useLiveState();
  const section = route.path[0] ?? "";
  const { role, node } = page(route);

  return (
    <div className="shell">
      <nav className="sidebar" aria-label="Main">
        <a className="brand" href="#/">
          ring3
        </a>
        {NAV.filter((item) => hasRole(user, item.role)).map((item) => (
          <a
            key={item.path}
            href={`#/${item.path}`}
            className={section === item.path ? "active" : undefined}
            aria-current={section === item.path ? "page" : undefined}
          >
            {item.label}
          </a>
        ))}
      </nav>
      <div className="main">
        <header className="topbar">
          <span className={`live live-${liveState}`} title="Live updates (Server-Sent Events)">
            {liveState === "live" ? "● live" : liveState === "connecting" ? "○ connecting" : "○ reconnecting"}
          </span>
          <span className="spacer" />
          <button type="button" onClick={() => setTheme(theme === "dark" ? "light" : "dark")}>
            {theme === "dark" ? "Light theme" : "Dark theme"}
          </button>
          <span className="user" data-role={user.role}>
            {user.username} <span className="muted">({user.role})</span>
          </span>
          <button type="button" onClick={onLogout}>
            Sign out
          </button>
        </header>
        <main className="content">
          {hasRole(user, role) ? (
            <Suspense fallback={<Loading what="page" />}>{node}</Suspense>
          ) : (
            <div className="forbidden" role="alert">
              <h1>Not permitted</h1>
              <p>
                This page needs the <b>{role}</b> role; you are signed in as <b>{user.role}</b>.{" "}
                <a href={href()}>Back to the overview</a>
              </p>
            </div>
          )}
        </main>
      </div>
    </div>
  );
}

export function App() {
  const [user, setUser] = useState<User | null | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const live = useMemo(() => new LiveStream(), []);

  useEffect(() => {
    setUnauthorizedHandler(() => setUser(null));
    call("me", {}).then(setUser, (cause: unknown) => {
      // 401 is "not signed in" (the handler above already said so); anything else is worth showing.
      if (!(cause instanceof Error && "status" in cause && cause.status === 401)) setError(cause);
      setUser(null);
    });
  }, []);

  useEffect(() => {
    if (user === null || user === undefined) return;
    live.start();
    return () => live.stop();
  }, [user, live]);

  const session = useMemo(() => (user ? { user, live } : undefined), [user, live]);

  if (user === undefined) return <Loading what="session" />;
  if (session === undefined) {
    return (
      <>
        <ErrorNote error={error} />
        <LoginPage
          onLogin={(u) => {
            setError(undefined);
            setUser(u);
          }}
        />
      </>
    );
  }
  const logout = () => {
    call("logout", {}).then(
      () => setUser(null),
      () => setUser(null),
    );
  };
  return (
    <SessionContext value={session}>
      <Shell onLogout={logout} />
    </SessionContext>
  );
}
