// Decode an audio file (OfflineAudioContext.decodeAudioData: the browser decodes on its own threads) and compute
// its peaks in a Web Worker. Without Worker (tests in jsdom) the peaks are computed here.
import { computePeaks, PEAKS_PER_SECOND } from "./peaks";

export interface DecodedAudio {
  duration: number;
  sampleRate: number;
  /** Min/max pairs, PEAKS_PER_SECOND pairs per second. */
  peaks: Float32Array;
}

export function peaksInWorker(channels: Float32Array[], samplesPerPeak: number): Promise<Float32Array> {
  if (typeof Worker === "undefined") return Promise.resolve(computePeaks(channels, samplesPerPeak));
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL("./peaks.worker.ts", import.meta.url), { type: "module" });
    worker.onmessage = (e: MessageEvent<Float32Array>) => {
      resolve(e.data);
      worker.terminate();
    };
    worker.onerror = (e) => {
      reject(new Error(e.message || "the peaks worker failed"));
      worker.terminate();
    };
    worker.postMessage({ channels, samplesPerPeak }, channels.map((c) => c.buffer));
  });
}

export async function decodeAudio(blob: Blob): Promise<DecodedAudio> {
  const bytes = await blob.arrayBuffer();
  const context = new OfflineAudioContext(1, 1, 44100);
  const buffer = await context.decodeAudioData(bytes);
  const channels = Array.from({ length: buffer.numberOfChannels }, (_, i) => buffer.getChannelData(i).slice());
  const peaks = await peaksInWorker(channels, buffer.sampleRate / PEAKS_PER_SECOND);
  return { duration: buffer.duration, sampleRate: buffer.sampleRate, peaks };
}
