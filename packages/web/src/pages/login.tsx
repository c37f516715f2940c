import { useState, type FormEvent } from "react";
import type { User } from "@ring3/protocol";
import { call } from "../api/client.ts";
import { ErrorNote } from "../components/ui.tsx";

export function LoginPage({ onLogin }: { onLogin: (user: User) => void }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    call("login", { body: { username, password } }).then(
      (response) => onLogin(response.user),
      (cause: unknown) => {
        setError(cause);
        setBusy(false);
      },
    );
  };

  return (
    <main className="login">
      <form className="card login-form" onSubmit={submit} aria-label="Sign in">
        <h1>
          ring3 <span className="muted">console</span>
        </h1>
        <label>
          Username
          <input
            name="username"
            autoComplete="username"
            value={username}
            onChange={(e) => setUsername(e.target.value)}
            autoFocus
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        <ErrorNote error={error} />
        <button type="submit" className="primary" disabled={busy || username === "" || password === ""}>
          Sign in
        </button>
      </form>
    </main>
  );
}
