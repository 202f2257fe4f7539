import { useState } from "react";
import type { Api } from "../api/client";
import type { Project, Schema } from "../api/types";
import { describeError } from "../auth/useSession";
import { DEFAULT_POLICY, PolicyEditor, type Policy } from "./PolicyEditor";
import { SchemaEditor } from "./SchemaEditor";
import { cleanSchema, schemaProblems } from "./schemaMapping";
import "./manage.css";

const STARTER: Schema = { modality: "image", tools: ["bbox"], labels: [{ name: "object", color: "#e6194b", hotkey: "1" }], choices: [], attributes: [] };

/** A new project: name, kind, label schema and policy. */
export function CreateProject({ api, onCreated, onCancel }: { api: Api; onCreated(project: Project): void; onCancel(): void }) {
  const [name, setName] = useState("");
  const [schema, setSchema] = useState<Schema>(STARTER);
  const [policy, setPolicy] = useState<Policy>(DEFAULT_POLICY);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const problems = [...(name.trim() ? [] : ["name: give the project a name"]), ...schemaProblems(schema)];

  const create = async () => {
    setBusy(true);
    setError(null);
    try {
      onCreated(await api.request<Project>("POST", "/projects", { name: name.trim(), schema: cleanSchema(schema), policy }));
    } catch (e) {
      setError(describeError(e));
      setBusy(false);
    }
  };
  return (
    <main className="manage" data-testid="create-project">
      <h2>New project</h2>
      <label className="field">
        Name
        <input data-testid="project-name" value={name} onChange={(e) => setName(e.target.value)} />
      </label>
      <section className="card">
        <h3>Label schema</h3>
        <SchemaEditor schema={schema} onChange={setSchema} />
      </section>
      <section className="card">
        <h3>Policy</h3>
        <PolicyEditor policy={policy} onChange={setPolicy} />
      </section>
      {problems.length > 0 && (
        <ul className="problems" data-testid="create-problems">
          {problems.map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      )}
      {error && (
        <p className="form-error" role="alert" data-testid="create-error">
          {error}
        </p>
      )}
      <div className="button-row">
        <button type="button" className="primary" data-testid="create-submit" disabled={busy || problems.length > 0} onClick={() => void create()}>
          Create project
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </main>
  );
}
