import { useCallback, useEffect, useState, type ReactNode } from "react";
import type { Api } from "../api/client";
import type { Project } from "../api/types";
import { describeError } from "../auth/useSession";

interface Props {
  api: Api;
  onPick(project: Project): void;
  /** Extra buttons per project (review, manage) and above the list (new project). */
  actions?: (project: Project) => ReactNode;
  header?: ReactNode;
}

type State = { kind: "loading" } | { kind: "failed"; message: string } | { kind: "ready"; projects: Project[] };

export function ProjectList({ api, onPick, actions, header }: Props) {
  const [state, setState] = useState<State>({ kind: "loading" });
  const load = useCallback(() => {
    setState({ kind: "loading" });
    api.projects().then(
      (projects) => setState({ kind: "ready", projects }),
      (e: unknown) => setState({ kind: "failed", message: describeError(e) }),
    );
  }, [api]);
  useEffect(load, [load]);

  if (state.kind === "loading") return <p className="notice">Loading projects…</p>;
  if (state.kind === "failed")
    return (
      <p className="notice" role="alert">
        {state.message} <button onClick={load}>Retry</button>
      </p>
    );
  return (
    <main className="project-list">
      <h2>Projects {header}</h2>
      {state.projects.length === 0 && <p className="notice">No projects yet.</p>}
      <ul>
        {state.projects.map((p) => (
          <li key={p.id}>
            <button className="project" data-testid={`project-${p.name}`} onClick={() => onPick(p)}>
              <strong>{p.name}</strong>
              <span className="muted">
                {p.schema.modality} · {(p.schema.tools ?? []).join(", ") || "no tools"}
              </span>
            </button>
            {actions?.(p)}
          </li>
        ))}
      </ul>
    </main>
  );
}
