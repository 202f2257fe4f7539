import { useState } from "react";
import type { Api } from "../api/client";
import type { Project } from "../api/types";
import { ExportTab } from "./tabs/ExportTab";
import { GoldTab } from "./tabs/GoldTab";
import { ImportTab } from "./tabs/ImportTab";
import { ModelsTab } from "./tabs/ModelsTab";
import { PeopleTab } from "./tabs/PeopleTab";
import { PolicyTab } from "./tabs/PolicyTab";
import { ProgressTab } from "./tabs/ProgressTab";
import { SchemaTab } from "./tabs/SchemaTab";
import "./manage.css";

const TABS = ["progress", "import", "schema", "policy", "gold", "people", "models", "export"] as const;
type Tab = (typeof TABS)[number];
const TITLES: Record<Tab, string> = {
  progress: "Progress",
  import: "Import",
  schema: "Label schema",
  policy: "Policy",
  gold: "Gold & qualification",
  people: "Annotators",
  models: "Models",
  export: "Export",
};

/** One project's management: progress, import, schema versions, policy, gold, people, models, exports. */
export function ManageProject({ api, project: initial, onReview }: { api: Api; project: Project; onReview(project: Project): void }) {
  const [project, setProject] = useState(initial);
  const [tab, setTab] = useState<Tab>("progress");
  return (
    <main className="manage" data-testid="manage-project">
      <div className="manage-head">
        <h2>{project.name}</h2>
        <span className="badge">{project.schema.modality}</span>
        <span className="badge" data-testid="schema-version">
          schema v{project.schema_version ?? 1}
        </span>
        <button type="button" data-testid="open-review" onClick={() => onReview(project)}>
          Review queue
        </button>
      </div>
      <nav className="tabs" role="tablist">
        {TABS.map((t) => (
          <button key={t} type="button" role="tab" aria-selected={t === tab} data-testid={`tab-${t}`} onClick={() => setTab(t)}>
            {TITLES[t]}
          </button>
        ))}
      </nav>
      <section className="tab-body card">
        {tab === "progress" && <ProgressTab api={api} project={project} />}
        {tab === "import" && <ImportTab api={api} project={project} />}
        {tab === "schema" && <SchemaTab api={api} project={project} onChanged={setProject} />}
        {tab === "policy" && <PolicyTab api={api} project={project} onChanged={setProject} />}
        {tab === "gold" && <GoldTab api={api} project={project} onChanged={setProject} />}
        {tab === "people" && <PeopleTab api={api} project={project} />}
        {tab === "models" && <ModelsTab api={api} project={project} />}
        {tab === "export" && <ExportTab api={api} project={project} />}
      </section>
    </main>
  );
}
