import { useCallback, useEffect, useState } from "react";
import type { Api } from "../../api/client";
import type { Project } from "../../api/types";
import { describeError } from "../../auth/useSession";

export interface ModelVersion {
  model_version: string;
  plugin: string;
  status: string;
  serving: boolean;
  parent_version: string | null;
  metrics: Record<string, unknown>;
  training_items: number;
  heldout_items: number;
  lineage: Record<string, unknown>;
  promoted_by: string | null;
  created_at: string | null;
  promoted_at: string | null;
}

/** The models a project can connect here, by what they need: a remote one its address, the built-in one nothing. */
export const CONNECTABLE: { plugin: string; title: string; needsUrl: boolean; modalities: string[] | null }[] = [
  { plugin: "ls-ml-backend", title: "Label Studio ML backend", needsUrl: true, modalities: ["image", "text"] },
  { plugin: "openai-chat", title: "OpenAI-compatible chat model", needsUrl: true, modalities: ["text"] },
  { plugin: "audio-energy-vad", title: "Built-in voice activity (audio segments)", needsUrl: false, modalities: ["audio"] },
];

/** "accuracy 0.91 vs 0.62 (majority baseline)" from a trained version's held-out metrics; "" for connected ones. */
export function describeMetrics(metrics: Record<string, unknown>): string {
  const name = typeof metrics.metric === "string" ? metrics.metric : null;
  const candidate = metrics.candidate as Record<string, unknown> | undefined;
  const incumbent = metrics.incumbent as Record<string, unknown> | undefined;
  if (!name || !candidate) return "";
  const value = (side: Record<string, unknown> | undefined) => (typeof side?.[name] === "number" ? (side[name] as number).toFixed(3) : "–");
  const against = typeof metrics.incumbent_kind === "string" ? String(metrics.incumbent_kind).replace(/_/g, " ") : "incumbent";
  return `${name.replace(/_/g, " ")} ${value(candidate)} vs ${value(incumbent)} (${against})`;
}

/** The project's model versions with their lineage and held-out figures; serve one; connect a model. */
export function ModelsTab({ api, project }: { api: Api; project: Project }) {
  const [versions, setVersions] = useState<ModelVersion[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const choices = CONNECTABLE.filter((c) => !c.modalities || c.modalities.includes(project.schema.modality));
  const [plugin, setPlugin] = useState(choices[0]?.plugin ?? "ls-ml-backend");
  const [url, setUrl] = useState("");
  const [model, setModel] = useState("");
  const [apiKey, setApiKey] = useState("");
  const [busy, setBusy] = useState(false);
  const path = `/projects/${encodeURIComponent(project.id)}/models`;
  const load = useCallback(() => {
    api.request<ModelVersion[]>("GET", path).then(setVersions, (e: unknown) => setError(describeError(e)));
  }, [api, path]);
  useEffect(load, [load]);
  const act = async (call: () => Promise<unknown>) => {
    setError(null);
    setBusy(true);
    try {
      await call();
      load();
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };
  const chosen = CONNECTABLE.find((c) => c.plugin === plugin);
  const connect = () => {
    const body: Record<string, string> = { plugin };
    if (chosen?.needsUrl) body.url = url.trim();
    if (plugin === "openai-chat") {
      body.model = model.trim();
      body.api_key = apiKey;
    }
    return act(() => api.request("POST", `${path}/connect`, body));
  };
  return (
    <div>
      {versions === null ? (
        <p className="notice">{error ?? "Loading models…"}</p>
      ) : versions.length === 0 ? (
        <p className="notice" data-testid="no-models">
          No model yet: one is trained here after enough accepted annotations, or connect one below.
        </p>
      ) : (
        <table className="figures" data-testid="models">
          <thead>
            <tr>
              <th>version</th>
              <th>status</th>
              <th>held-out</th>
              <th>trained on</th>
              <th>promoted by</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {versions.map((v) => (
              <tr key={v.model_version} data-testid={`model-${v.model_version}`}>
                <td>
                  <code>{v.model_version}</code>
                  {v.parent_version && <div className="hint">after {v.parent_version}</div>}
                </td>
                <td data-testid={`model-status-${v.model_version}`}>{v.serving ? "serving" : v.status}</td>
                <td>{describeMetrics(v.metrics) || (typeof v.lineage.remote === "string" ? `connected: ${v.lineage.remote}` : "built in")}</td>
                <td>{v.training_items ? `${v.training_items} items (+${v.heldout_items} held out)` : "–"}</td>
                <td>{v.promoted_by ?? "–"}</td>
                <td>
                  {!v.serving && (
                    <button type="button" disabled={busy} data-testid={`serve-${v.model_version}`} onClick={() => void act(() => api.request("POST", `${path}/promote`, { model_version: v.model_version }))}>
                      Serve this version
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <section className="connect-model">
        <h3>Connect a model</h3>
        <label>
          Model{" "}
          <select data-testid="connect-plugin" value={plugin} onChange={(e) => setPlugin(e.target.value)}>
            {choices.map((c) => (
              <option key={c.plugin} value={c.plugin}>
                {c.title}
              </option>
            ))}
          </select>
        </label>
        {chosen?.needsUrl && (
          <label>
            Address{" "}
            <input data-testid="connect-url" placeholder="http://127.0.0.1:9090" value={url} onChange={(e) => setUrl(e.target.value)} />
          </label>
        )}
        {plugin === "openai-chat" && (
          <>
            <label>
              Model name <input data-testid="connect-model-name" value={model} onChange={(e) => setModel(e.target.value)} />
            </label>
            <label>
              API key <input data-testid="connect-api-key" type="password" value={apiKey} onChange={(e) => setApiKey(e.target.value)} />
            </label>
          </>
        )}
        <button type="button" data-testid="connect" disabled={busy || (!!chosen?.needsUrl && !url.trim())} onClick={() => void connect()}>
          {busy ? "Checking the model…" : "Connect and serve"}
        </button>
        <p className="hint">
          {chosen?.needsUrl ? "The model must answer first (its health and setup). " : ""}Once connected it serves: new items get its pre-labels and the queue is
          scored with it.
        </p>
      </section>
      {error && (
        <p className="form-error" role="alert" data-testid="models-error">
          {error}
        </p>
      )}
    </div>
  );
}
