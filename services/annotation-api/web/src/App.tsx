import { useState } from "react";
import type { Api } from "./api/client";
import type { Me, Project } from "./api/types";
import { SignIn } from "./auth/SignIn";
import { useSession } from "./auth/useSession";
import { Dashboards } from "./dashboard/Dashboards";
import { NewProjectButton, ProjectActions, ProjectScreen, type Screen } from "./manage/ProjectScreens";
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
  const [dashboards, setDashboards] = useState(false);
  const [screen, setScreen] = useState<Screen>("label");
  const open = (next: Screen, p: Project | null) => {
    setScreen(next);
    setProject(p);
  };
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
        <button type="button" className="link" data-testid="open-dashboards" onClick={() => { setProject(null); setDashboards((d) => !d); }}>
          {dashboards ? "Projects" : "Dashboards"}
        </button>
        <span className="spacer" />
        <span className="muted" data-testid="username">
          {me.username} ({me.role})
        </span>
        <button type="button" data-testid="sign-out" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      {dashboards ? (
        <Dashboards api={api} me={me} />
      ) : screen === "create" || (project && screen !== "label") ? (
        <ProjectScreen api={api} screen={screen} project={project} onOpen={open} />
      ) : project ? (
        <Workspace key={project.id} api={api} project={project} onExit={() => setProject(null)} />
      ) : (
        <ProjectList
          api={api}
          onPick={(p) => open("label", p)}
          actions={(p) => <ProjectActions me={me} project={p} onOpen={open} />}
          header={<NewProjectButton me={me} onOpen={open} />}
        />
      )}
    </div>
  );
}
