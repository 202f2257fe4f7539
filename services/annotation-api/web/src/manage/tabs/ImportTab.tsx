import { useState } from "react";
import type { Api } from "../../api/client";
import type { Project } from "../../api/types";
import { describeError } from "../../auth/useSession";

interface ImportReply {
  created: number;
  duplicates: number;
}

/** How a set of picked files is sent: one .json/.jsonl file is a list of items; anything else is one item per file. */
export function importPlan(files: readonly { name: string }[]): "json" | "jsonl" | "files" {
  if (files.length === 1) {
    const name = files[0]!.name.toLowerCase();
    if (name.endsWith(".jsonl") || name.endsWith(".ndjson")) return "jsonl";
    if (name.endsWith(".json")) return "json";
  }
  return "files";
}

/** An https:// URL is one media item (fetched by ingest); s3:// and file:/// are sources with many objects. */
export function mediaItem(modality: string, uri: string): Record<string, string> | null {
  if (!/^https:\/\//i.test(uri) || modality === "text") return null;
  return { external_id: uri.split("/").pop() || uri, [modality]: uri };
}

export function ImportTab({ api, project }: { api: Api; project: Project }) {
  const [files, setFiles] = useState<File[]>([]);
  const [uri, setUri] = useState("");
  const [message, setMessage] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const path = `/projects/${encodeURIComponent(project.id)}`;

  const run = async (send: () => Promise<Response>) => {
    setBusy(true);
    setError(null);
    setMessage(null);
    try {
      const reply = (await (await send()).json()) as ImportReply;
      setMessage(`Imported ${reply.created} item${reply.created === 1 ? "" : "s"} (${reply.duplicates} already there).`);
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };
  const upload = () =>
    run(async () => {
      const plan = importPlan(files);
      if (plan !== "files") {
        return api.raw(`${path}/items?format=${plan}`, { method: "POST", body: await files[0]!.text() });
      }
      const form = new FormData();
      for (const f of files) form.append("files", f, f.name);
      return api.raw(`${path}/items`, { method: "POST", body: form });
    });
  const fromSource = () =>
    run(async () => {
      const target = uri.trim();
      const media = mediaItem(project.schema.modality, target);
      if (media) return api.raw(`${path}/items`, { method: "POST", body: JSON.stringify([media]) });
      return api.raw(`${path}/sources`, { method: "POST", body: JSON.stringify({ uri: target }) });
    });

  return (
    <div className="import-tab">
      <section>
        <h3>Upload</h3>
        <p className="muted">A .json or .jsonl file of items (DESIGN "Item import": text, image, meta, predictions, gold), or images and texts, one item per file.</p>
        <input type="file" multiple data-testid="import-files" onChange={(e) => setFiles(Array.from(e.target.files ?? []))} />
        <button type="button" className="primary" data-testid="import-upload" disabled={busy || files.length === 0} onClick={() => void upload()}>
          Import {files.length > 0 ? `${files.length} file${files.length === 1 ? "" : "s"}` : ""}
        </button>
      </section>
      <section>
        <h3>From a source</h3>
        <p className="muted">Every object under an s3://bucket/prefix or a file:/// folder inside the allowed roots; or one image, audio or video at an https:// URL.</p>
        <input className="wide" placeholder="s3://bucket/prefix/ or https://…" data-testid="import-uri" value={uri} onChange={(e) => setUri(e.target.value)} />
        <button type="button" data-testid="import-source" disabled={busy || !uri.trim()} onClick={() => void fromSource()}>
          Import from source
        </button>
      </section>
      {message && (
        <p className="ok" data-testid="import-result">
          {message}
        </p>
      )}
      {error && (
        <p className="form-error" role="alert" data-testid="import-error">
          {error}
        </p>
      )}
    </div>
  );
}
