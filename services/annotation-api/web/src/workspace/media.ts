// Fetch and decode the item before it is shown, so the annotator never watches an image paint. Images are
// decoded off the main thread (createImageBitmap) together with halved copies down to 1024 px: zoomed-out
// frames draw from a copy about the canvas's size instead of scaling all 4K pixels every frame.
import type { Api } from "../api/client";
import type { Task } from "../api/types";
import { decodeAudio } from "../stage/audio/decode";
import type { ImageLevel, LoadedMedia } from "../tools/types";

const SMALLEST_LEVEL = 1024;

export async function decodeImage(url: string): Promise<HTMLImageElement> {
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
  return img;
}

async function pyramid(blob: Blob, url: string): Promise<ImageLevel[]> {
  if (typeof createImageBitmap !== "function") {
    const img = await decodeImage(url);
    return [{ source: img, width: img.naturalWidth, height: img.naturalHeight }];
  }
  const full = await createImageBitmap(blob);
  const levels: ImageLevel[] = [{ source: full, width: full.width, height: full.height }];
  let { width, height } = full;
  while (Math.max(width, height) > SMALLEST_LEVEL) {
    width = Math.max(1, Math.ceil(width / 2));
    height = Math.max(1, Math.ceil(height / 2));
    try {
      levels.push({ source: await createImageBitmap(full, { resizeWidth: width, resizeHeight: height, resizeQuality: "medium" }), width, height });
    } catch {
      break; // the full image still works
    }
  }
  return levels;
}

export async function loadMedia(api: Api, task: Task): Promise<LoadedMedia> {
  const { item } = task;
  if (typeof item.text === "string") return { kind: "text", text: item.text };
  if (item.modality === "text") {
    return { kind: "text", text: item.media_url ? await (await api.media(item.media_url)).text() : "" };
  }
  if (item.modality === "image" && item.media_url) {
    const blob = await api.media(item.media_url);
    const url = URL.createObjectURL(blob);
    try {
      const levels = await pyramid(blob, url);
      const natural = levels[0]!;
      return { kind: "image", url, width: item.width || natural.width, height: item.height || natural.height, levels };
    } catch {
      URL.revokeObjectURL(url);
      throw new Error(`The image of ${item.external_id ?? item.id} could not be decoded.`);
    }
  }
  if ((item.modality === "audio" || item.modality === "video") && item.media_url) {
    const blob = await api.media(item.media_url);
    if (item.modality === "video" || typeof OfflineAudioContext === "undefined") return { kind: item.modality, url: URL.createObjectURL(blob), blob };
    const decoded = decodeAudio(blob);
    decoded.catch(() => undefined); // the stage reports it when shown
    return { kind: "audio", url: URL.createObjectURL(blob), blob, decoded };
  }
  return { kind: "none" };
}

export function releaseMedia(media: LoadedMedia): void {
  if (media.kind === "audio" || media.kind === "video") URL.revokeObjectURL(media.url);
  if (media.kind !== "image") return;
  URL.revokeObjectURL(media.url);
  for (const level of media.levels) if (typeof ImageBitmap !== "undefined" && level.source instanceof ImageBitmap) level.source.close();
}
