// Peaks off the main thread: the decoded channels come in (transferred), the peaks go back (transferred).
import { computePeaks } from "./peaks";

interface PeaksRequest {
  channels: Float32Array[];
  samplesPerPeak: number;
}

self.onmessage = (e: MessageEvent<PeaksRequest>) => {
  const peaks = computePeaks(e.data.channels, e.data.samplesPerPeak);
  (self as unknown as Worker).postMessage(peaks, [peaks.buffer]);
};
