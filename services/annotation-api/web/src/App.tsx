import { useState } from "react";
import type { Api } from "./api/client";
import type { Me, Project } from "./api/types";
import { SignIn } from "./auth/SignIn";
import { useSession } from "./auth/useSession";
import { ProjectList } from "./projects/ProjectList";
import { Workspace } from "./workspace/Workspace";

export function App({ fetchImpl }: { fetchImpl?: typeof fetch }) {
  const { session, signIn, signOut } = useSession(fetchImpl);
  if (session.status === "checking") return <p className="notice">Signing in…</p>;
  if (session.status === "signed-out") return <SignIn message={session.message} onSignIn={signIn} />;
  return <Shell key={session.me.id} me={session.me} api={session.api} onSignOut={() => signOut()} />;
}

/** The signed-in app: project list, then one project's workspace. */
function Shell({ me, api, onSignOut }: { me: Me; api: Api; onSignOut(): void }) {
  const [project, setProject] = useState<Project | null>(null);
  return (
    <div className="app">
      <header className="top-bar">
        <strong className="brand">Annotary</strong>
        {project && (
          <>
            <button type="button" className="link" data-testid="back-to-projects" onClick={() => setProject(null)}>
              Projects
            </button>
            <span className="muted">/ {project.name}</span>
          </>
        )}
        <span className="spacer" />
        <span className="muted" data-testid="username">
          {me.username} ({me.role})
        </span>
        <button type="button" data-testid="sign-out" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      {project ? (
        <Workspace key={project.id} api={api} project={project} onExit={() => setProject(null)} />
      ) : (
        <ProjectList api={api} onPick={setProject} />
      )}
    </div>
  );
}
