import { useEffect, useState } from "react";
import type { Api } from "../api/client";
import type { Me, Project } from "../api/types";
import { describeError } from "../auth/useSession";
import "./dashboard.css";
import { MyStats } from "./MyStats";
import { ProjectDashboard } from "./ProjectDashboard";
import type { RangeChoice } from "./range";
import { RangePicker } from "./RangePicker";

interface Props {
  api: Api;
  me: Me;
}

type View = "project" | "mine";

/** The dashboards screen: pick a project and a range; managers see the project, everyone sees their own figures. */
export function Dashboards({ api, me }: Props) {
  const manager = me.role === "manager" || me.role === "admin";
  const [projects, setProjects] = useState<Project[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [projectId, setProjectId] = useState<string>("");
  const [view, setView] = useState<View>(manager ? "project" : "mine");
  const [range, setRange] = useState<RangeChoice>({ kind: "preset", id: "24h" });
  useEffect(() => {
    api.projects().then(
      (list) => {
        setProjects(list);
        setProjectId((current) => current || (list[list.length - 1]?.id ?? ""));
      },
      (e: unknown) => setError(describeError(e)),
    );
  }, [api]);
  if (error)
    return (
      <p className="notice" role="alert">
        {error}
      </p>
    );
  if (!projects) return <p className="notice">Loading projects…</p>;
  if (projects.length === 0) return <p className="notice">No projects yet.</p>;
  return (
    <main className="dashboards">
      <div className="dash-controls">
        <label>
          Project{" "}
          <select data-testid="dashboard-project" value={projectId} onChange={(e) => setProjectId(e.target.value)}>
            {projects.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </select>
        </label>
        <div className="dash-views" role="tablist">
          {manager && (
            <button type="button" role="tab" aria-selected={view === "project"} data-testid="view-project" onClick={() => setView("project")}>
              Project dashboard
            </button>
          )}
          <button type="button" role="tab" aria-selected={view === "mine"} data-testid="view-mine" onClick={() => setView("mine")}>
            My stats
          </button>
        </div>
        <RangePicker value={range} onChange={setRange} />
      </div>
      {projectId &&
        (view === "project" && manager ? (
          <ProjectDashboard key={projectId} api={api} projectId={projectId} range={range} />
        ) : (
          <MyStats key={projectId} api={api} projectId={projectId} range={range} />
        ))}
    </main>
  );
}
