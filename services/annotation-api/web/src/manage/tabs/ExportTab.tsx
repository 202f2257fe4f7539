import { useEffect, useRef, useState } from "react";
import type { Api } from "../../api/client";
import type { Project } from "../../api/types";
import { describeError } from "../../auth/useSession";

export const EXPORT_FORMATS = ["jsonl", "coco", "voc", "yolo", "spacy", "hf", "conll", "csv", "labelstudio"];

interface ExportJob {
  id: string;
  format: string;
  status: "queued" | "running" | "done" | "failed";
  item_count: number;
  annotation_count: number;
  error: string | null;
  file_name: string | null;
  download_url: string | null;
}

/** Start an export, watch it, download it. */
export function ExportTab({ api, project }: { api: Api; project: Project }) {
  const [format, setFormat] = useState(project.schema.modality === "image" ? "coco" : "jsonl");
  const [job, setJob] = useState<ExportJob | null>(null);
  const [error, setError] = useState<string | null>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);

  const watch = (id: string) => {
    api.request<ExportJob>("GET", `/exports/${encodeURIComponent(id)}`).then(
      (j) => {
        setJob(j);
        if (j.status === "queued" || j.status === "running") timer.current = setTimeout(() => watch(id), 500);
      },
      (e: unknown) => setError(describeError(e)),
    );
  };
  const start = async () => {
    setError(null);
    try {
      const j = await api.request<ExportJob>("POST", `/projects/${encodeURIComponent(project.id)}/exports`, { format });
      setJob(j);
      watch(j.id);
    } catch (e) {
      setError(describeError(e));
    }
  };
  const download = async () => {
    if (!job) return;
    try {
      const blob = await (await api.raw(`/exports/${encodeURIComponent(job.id)}/download`)).blob();
      const url = URL.createObjectURL(blob);
      const a = document.createElement("a");
      a.href = url;
      a.download = job.file_name ?? `${project.name}.${job.format}`;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      setError(describeError(e));
    }
  };
  return (
    <div className="export-tab">
      <div className="button-row">
        <select data-testid="export-format" value={format} onChange={(e) => setFormat(e.target.value)}>
          {EXPORT_FORMATS.map((f) => (
            <option key={f}>{f}</option>
          ))}
        </select>
        <button type="button" className="primary" data-testid="export-start" onClick={() => void start()}>
          Start export
        </button>
      </div>
      {job && (
        <p data-testid="export-status" data-status={job.status}>
          Export {job.format}: <strong>{job.status}</strong>
          {job.status === "done" && ` · ${job.item_count} items, ${job.annotation_count} annotations`}
          {job.error && ` · ${job.error}`}
        </p>
      )}
      {job?.status === "done" && (
        <button type="button" data-testid="export-download" onClick={() => void download()}>
          Download {job.file_name}
        </button>
      )}
      {error && (
        <p className="form-error" role="alert" data-testid="export-error">
          {error}
        </p>
      )}
    </div>
  );
}
