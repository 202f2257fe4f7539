import { useCallback, useEffect, useMemo, useState } from "react";
import type { Api } from "../../api/client";
import type { Project, Schema } from "../../api/types";
import { describeError } from "../../auth/useSession";
import { SchemaEditor } from "../SchemaEditor";
import { cleanSchema, labelChanges, mappingForRequest, mappingProblems, schemaProblems, suggestMapping, type LabelMapping } from "../schemaMapping";

interface SchemaVersion {
  version: number;
  schema: Schema;
  created_at: string;
  migrations: { from_version: number; mapping: Record<string, string>; migrated: number; relabeled: number; dropped: number; by: string; at: string }[];
}

interface MigrateReply {
  from_version: number;
  to_version: number;
  migrated: number;
  regions_relabeled: number;
  regions_dropped: number;
}

const DROP = "\u0000drop";

/** Versions of the label schema; edit the current one into a new version and migrate the accepted annotations
 * of the old one with a label mapping. */
export function SchemaTab({ api, project, onChanged }: { api: Api; project: Project; onChanged(p: Project): void }) {
  const [versions, setVersions] = useState<SchemaVersion[] | null>(null);
  const [draft, setDraft] = useState<Schema>(project.schema);
  const [mapping, setMapping] = useState<LabelMapping>({});
  const [touched, setTouched] = useState<Set<string>>(new Set());
  const [result, setResult] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const path = `/projects/${encodeURIComponent(project.id)}`;
  const load = useCallback(() => {
    api.request<SchemaVersion[]>("GET", `${path}/schema/versions`).then(setVersions, (e: unknown) => setError(describeError(e)));
  }, [api, path]);
  useEffect(load, [load]);

  const next = useMemo(() => cleanSchema(draft), [draft]);
  const changes = labelChanges(project.schema, next);
  // suggestions follow the draft until the manager picks a target by hand
  const effective: LabelMapping = useMemo(() => {
    const suggested = suggestMapping(project.schema, next);
    const out: LabelMapping = {};
    for (const label of changes.removed) if (!touched.has(label) && label in suggested) out[label] = suggested[label]!;
    for (const [k, v] of Object.entries(mapping)) if (touched.has(k)) out[k] = v;
    return out;
  }, [project.schema, next, changes.removed, mapping, touched]);
  const problems = [...schemaProblems(next), ...mappingProblems(project.schema, next, effective)];
  const unchanged = JSON.stringify(next) === JSON.stringify(cleanSchema(project.schema));

  const pick = (label: string, value: string) => {
    setTouched(new Set([...touched, label]));
    setMapping({ ...mapping, [label]: value === DROP ? null : value });
  };
  const migrate = async () => {
    setBusy(true);
    setError(null);
    try {
      const reply = await api.request<MigrateReply>("POST", `${path}/schema/migrate`, { schema: next, mapping: mappingForRequest(effective) });
      setResult(
        `Version ${reply.to_version} saved; ${reply.migrated} accepted annotation${reply.migrated === 1 ? "" : "s"} of version ${reply.from_version} migrated ` +
          `(${reply.regions_relabeled} regions relabeled, ${reply.regions_dropped} dropped).`,
      );
      const updated = await api.request<Project>("GET", path);
      onChanged(updated);
      setDraft(updated.schema);
      setMapping({});
      setTouched(new Set());
      load();
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };

  const saveOnly = async () => {
    setBusy(true);
    setError(null);
    try {
      const updated = await api.request<Project>("PATCH", path, { schema: next });
      setResult(`Version ${updated.schema_version ?? "?"} saved; the accepted annotations keep their version.`);
      onChanged(updated);
      setDraft(updated.schema);
      setMapping({});
      setTouched(new Set());
      load();
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };

  const newLabels = (next.labels ?? []).map((l) => l.name);
  return (
    <div className="schema-tab">
      <section>
        <h3>Versions</h3>
        <table className="figures" data-testid="schema-versions">
          <thead>
            <tr>
              <th>version</th>
              <th>labels</th>
              <th>created</th>
              <th>migrated into it</th>
            </tr>
          </thead>
          <tbody>
            {(versions ?? []).map((v) => (
              <tr key={v.version} data-testid={`schema-version-${v.version}`}>
                <td>v{v.version}</td>
                <td>{(v.schema.labels ?? []).map((l) => l.name).join(", ")}</td>
                <td>{new Date(v.created_at).toLocaleString()}</td>
                <td>
                  {v.migrations.map((m) => (
                    <div key={m.at}>
                      from v{m.from_version} by {m.by}: {m.migrated} items ({Object.entries(m.mapping).map(([a, b]) => `${a} → ${b || "dropped"}`).join(", ") || "labels unchanged"})
                    </div>
                  ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section>
        <h3>Edit (makes version {(project.schema_version ?? 1) + 1}; annotations keep their version unless migrated)</h3>
        <SchemaEditor schema={draft} onChange={setDraft} fixedModality />
      </section>
      {!unchanged && (
        <section className="mapping" data-testid="label-mapping">
          <h3>Migrate the accepted annotations of v{project.schema_version ?? 1}</h3>
          <table className="figures">
            <thead>
              <tr>
                <th>old label</th>
                <th>becomes</th>
              </tr>
            </thead>
            <tbody>
              {(project.schema.labels ?? []).map((l) => {
                const kept = changes.kept.includes(l.name);
                const value = l.name in effective ? (effective[l.name] === null || effective[l.name] === "" ? DROP : effective[l.name]!) : kept ? l.name : "";
                return (
                  <tr key={l.name}>
                    <td>{l.name}</td>
                    <td>
                      <select data-testid={`map-${l.name}`} value={value} onChange={(e) => pick(l.name, e.target.value)}>
                        {!kept && !(l.name in effective) && <option value="">choose…</option>}
                        {newLabels.map((n) => (
                          <option key={n} value={n}>
                            {n}
                          </option>
                        ))}
                        <option value={DROP}>drop its regions</option>
                      </select>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </section>
      )}
      {problems.length > 0 && !unchanged && (
        <ul className="problems" data-testid="schema-problems">
          {problems.map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      )}
      <div className="button-row">
        <button type="button" className="primary" data-testid="schema-migrate" disabled={busy || unchanged || problems.length > 0} onClick={() => void migrate()}>
          Save new version and migrate
        </button>
        <button type="button" data-testid="schema-save-only" disabled={busy || unchanged || schemaProblems(next).length > 0} onClick={() => void saveOnly()}>
          Save new version only
        </button>
        {result && <span data-testid="migrate-result">{result}</span>}
        {error && (
          <span className="form-error" role="alert" data-testid="schema-error">
            {error}
          </span>
        )}
      </div>
    </div>
  );
}
