import { useEffect } from "react";
import type { Task } from "../api/types";
import { TextStage } from "../stage/text/TextStage";
import type { LoadedMedia, ToolPlugin, ToolProps } from "../tools/types";

/** The item without a drawing tool (e.g. a choice-only project), or an audio/video tool's own stage. */
export function ItemView({ task, media, onReady, stage, toolProps }: { task: Task; media: LoadedMedia; onReady?(): void; stage?: ToolPlugin | undefined; toolProps?: ToolProps }) {
  useEffect(() => {
    if (media.kind === "image") onReady?.();
  }, [media.kind, onReady]);
  if (media.kind === "text") return <TextStage text={media.text} plugins={[]} regions={[]} labels={[]} selectedId={null} invalidIds={new Set()} editor={null} {...(onReady ? { onReady } : {})} />;
  if (media.kind === "image")
    return (
      <div className="image-stage">
        <img className="stage-image" src={media.url} alt={task.item.external_id ?? "item"} draggable={false} />
      </div>
    );
  if ((media.kind === "audio" || media.kind === "video") && stage?.Stage && toolProps) return <stage.Stage {...toolProps} {...(onReady ? { onReady } : {})} />;
  if (media.kind === "audio") return <audio className="stage-audio" src={media.url} controls />;
  if (media.kind === "video") return <video className="stage-video" src={media.url} controls />;
  return <p className="notice">This {task.item.modality} item cannot be shown here yet.</p>;
}
