import { useState, type FormEvent } from "react";
import { ROLES, type EnrollmentToken, type Role, type User } from "@ring3/protocol";
import { call } from "../api/client.ts";
import { useApi } from "../api/use-api.ts";
import { Card, ConfirmDialog, ErrorNote, Loading } from "../components/ui.tsx";
import { formatTime } from "../format.ts";
import { useSession } from "../session.ts";

/** A text input of a submitted form (FormData also holds files, which these forms have none of). */
function text(data: FormData, name: string): string {
  const value = data.get(name);
  return typeof value === "string" ? value : "";
}

/** Console users and agent enrollment tokens: who may sign in, and which hosts may join. Admins only. */
export default function AccessPage() {
  return (
    <div className="page">
      <div className="page-head">
        <h1>Access</h1>
        <span className="muted">console users and the enrollment tokens agents join with</span>
      </div>
      <div className="grid-2">
        <UsersCard />
        <EnrollmentTokensCard />
      </div>
    </div>
  );
}

function UsersCard() {
  const { user: me } = useSession();
  const users = useApi("listUsers", {});
  const [error, setError] = useState<unknown>(undefined);
  const [removing, setRemoving] = useState<User | undefined>(undefined);

  const create = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const data = new FormData(form);
    const body = {
      username: text(data, "username").trim(),
      password: text(data, "password"),
      role: text(data, "role") as Role,
    };
    call("createUser", { body }).then(
      (created) => {
        form.reset();
        setError(undefined);
        users.setData((list) => [...(list ?? []), created]);
      },
      (cause: unknown) => setError(cause),
    );
  };
  const remove = (user: User) => {
    setRemoving(undefined);
    call("deleteUser", { params: { id: user.id } }).then(
      () => users.setData((list) => list?.filter((u) => u.id !== user.id)),
      (cause: unknown) => setError(cause),
    );
  };

  return (
    <Card title="Users">
      {users.data === undefined ? (
        users.error !== undefined ? (
          <ErrorNote error={users.error} />
        ) : (
          <Loading what="users" />
        )
      ) : (
        <table className="table" aria-label="Users">
          <thead>
            <tr>
              <th>User</th>
              <th>Role</th>
              <th>Created</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {users.data.map((user) => (
              <tr key={user.id}>
                <td>{user.username}</td>
                <td>{user.role}</td>
                <td className="nowrap">{formatTime(user.createdAt)}</td>
                <td>
                  {/* The server refuses it too; the button is not offered for the signed-in admin. */}
                  {user.id === me.id ? null : (
                    <button type="button" className="danger" onClick={() => setRemoving(user)}>
                      Remove
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form className="filters" onSubmit={create} aria-label="New user">
        <input name="username" placeholder="username" aria-label="Username" required maxLength={128} />
        <input
          name="password"
          type="password"
          placeholder="password (12+ characters)"
          aria-label="Password"
          autoComplete="new-password"
          required
          minLength={12}
        />
        <select name="role" aria-label="Role" defaultValue="analyst">
          {ROLES.map((role) => (
            <option key={role} value={role}>
              {role}
            </option>
          ))}
        </select>
        <button type="submit" className="primary">
          Add user
        </button>
      </form>
      <ErrorNote error={error} />
      {removing !== undefined ? (
        <ConfirmDialog
          title={`Remove ${removing.username}?`}
          confirmLabel="Remove user"
          danger
          onConfirm={() => remove(removing)}
          onCancel={() => setRemoving(undefined)}
        >
          Their sessions end now; the audit log keeps what they did.
        </ConfirmDialog>
      ) : null}
    </Card>
  );
}

const TTL_CHOICES = [
  { seconds: 3600, label: "1 hour" },
  { seconds: 24 * 3600, label: "1 day" },
  { seconds: 7 * 24 * 3600, label: "7 days" },
  { seconds: 30 * 24 * 3600, label: "30 days" },
] as const;

function tokenState(token: EnrollmentToken, now: number): string {
  if (token.revoked) return "revoked";
  if (Date.parse(token.expiresAt) <= now) return "expired";
  if (token.maxUses !== undefined && token.uses >= token.maxUses) return "used up";
  return "active";
}

function EnrollmentTokensCard() {
  const tokens = useApi("listEnrollmentTokens", {});
  const [error, setError] = useState<unknown>(undefined);
  // The secret is shown once, right after creation: the server keeps only its hash.
  const [secret, setSecret] = useState<string | undefined>(undefined);
  const now = Date.now();

  const create = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const data = new FormData(form);
    const description = text(data, "description").trim();
    const maxUses = Number(text(data, "maxUses"));
    const body = {
      ttlSeconds: Number(text(data, "ttl")),
      ...(description === "" ? {} : { description }),
      ...(Number.isInteger(maxUses) && maxUses > 0 ? { maxUses } : {}),
    };
    call("createEnrollmentToken", { body }).then(
      (created) => {
        form.reset();
        setError(undefined);
        setSecret(created.token);
        const { token: _secret, ...listed } = created;
        tokens.setData((list) => [listed, ...(list ?? [])]);
      },
      (cause: unknown) => setError(cause),
    );
  };
  const revoke = (token: EnrollmentToken) => {
    call("revokeEnrollmentToken", { params: { id: token.id } }).then(
      () => tokens.setData((list) => list?.map((t) => (t.id === token.id ? { ...t, revoked: true } : t))),
      (cause: unknown) => setError(cause),
    );
  };

  return (
    <Card title="Enrollment tokens">
      {secret !== undefined ? (
        <div className="notice" role="status" aria-label="New enrollment token">
          <p>Copy it now; it is not shown again. On the host:</p>
          <code data-testid="enrollment-command">
            ring3 agent --server {window.location.origin} --enroll-token {secret} --ca ca.pem
          </code>
        </div>
      ) : null}
      {tokens.data === undefined ? (
        tokens.error !== undefined ? (
          <ErrorNote error={tokens.error} />
        ) : (
          <Loading what="enrollment tokens" />
        )
      ) : (
        <table className="table" aria-label="Enrollment tokens">
          <thead>
            <tr>
              <th>Description</th>
              <th>State</th>
              <th>Uses</th>
              <th>Expires</th>
              <th>Created by</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {tokens.data.map((token) => {
              const state = tokenState(token, now);
              return (
                <tr key={token.id}>
                  <td>{token.description ?? <span className="muted">—</span>}</td>
                  <td className={state === "active" ? "ok" : "muted"}>{state}</td>
                  <td>
                    {token.uses}
                    {token.maxUses === undefined ? "" : ` / ${token.maxUses}`}
                  </td>
                  <td className="nowrap">{formatTime(token.expiresAt)}</td>
                  <td>{token.createdBy}</td>
                  <td>
                    {state === "active" ? (
                      <button type="button" className="danger" onClick={() => revoke(token)}>
                        Revoke
                      </button>
                    ) : null}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <form className="filters" onSubmit={create} aria-label="New enrollment token">
        <input
          name="description"
          placeholder="description (e.g. web servers)"
          aria-label="Description"
          maxLength={256}
        />
        <select name="ttl" aria-label="Valid for" defaultValue={String(24 * 3600)}>
          {TTL_CHOICES.map((c) => (
            <option key={c.seconds} value={c.seconds}>
              {c.label}
            </option>
          ))}
        </select>
        <input name="maxUses" type="number" min={1} placeholder="max uses" aria-label="Max uses" size={8} />
        <button type="submit" className="primary">
          Create token
        </button>
      </form>
      <ErrorNote error={error} />
    </Card>
  );
}
