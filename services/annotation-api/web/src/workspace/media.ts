// Fetch and decode the item before it is shown, so the annotator never watches an image paint.
import type { Api } from "../api/client";
import type { Task } from "../api/types";
import type { LoadedMedia } from "../tools/types";

export async function decodeImage(url: string): Promise<{ width: number; height: number }> {
  const img = new Image();
  img.src = url;
  if (typeof img.decode === "function") {
    await img.decode();
  } else {
    await new Promise<void>((resolve, reject) => {
      img.onload = () => resolve();
      img.onerror = () => reject(new Error("image failed to load"));
    });
  }
  return { width: img.naturalWidth, height: img.naturalHeight };
}

export async function loadMedia(api: Api, task: Task): Promise<LoadedMedia> {
  const { item } = task;
  if (typeof item.text === "string") return { kind: "text", text: item.text };
  if (item.modality === "text") {
    return { kind: "text", text: item.media_url ? await (await api.media(item.media_url)).text() : "" };
  }
  if (item.modality === "image" && item.media_url) {
    const url = URL.createObjectURL(await api.media(item.media_url));
    try {
      const natural = await decodeImage(url);
      return { kind: "image", url, width: item.width || natural.width, height: item.height || natural.height };
    } catch {
      URL.revokeObjectURL(url);
      throw new Error(`The image of ${item.external_id ?? item.id} could not be decoded.`);
    }
  }
  return { kind: "none" };
}

export function releaseMedia(media: LoadedMedia): void {
  if (media.kind === "image") URL.revokeObjectURL(media.url);
}
