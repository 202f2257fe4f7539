// Waveform peaks: the min and max sample of each bucket, over every channel. Pure, so the worker and the tests
// share it. Peaks are computed once per item at a fine resolution (PEAKS_PER_SECOND) and merged for zoomed-out
// views (reducePeaks), so zooming never touches the samples again.

export const PEAKS_PER_SECOND = 200;

/** [min0, max0, min1, max1, ...]: one pair per `samplesPerPeak` samples (the last bucket may be shorter). */
export function computePeaks(channels: readonly Float32Array[], samplesPerPeak: number): Float32Array {
  const length = channels.reduce((n, c) => Math.max(n, c.length), 0);
  const step = Math.max(1, Math.floor(samplesPerPeak));
  const buckets = Math.ceil(length / step);
  const out = new Float32Array(buckets * 2);
  for (let b = 0; b < buckets; b++) {
    let min = Infinity;
    let max = -Infinity;
    const from = b * step;
    const to = Math.min(length, from + step);
    for (const channel of channels) {
      const end = Math.min(to, channel.length);
      for (let i = from; i < end; i++) {
        const v = channel[i]!;
        if (v < min) min = v;
        if (v > max) max = v;
      }
    }
    out[2 * b] = min === Infinity ? 0 : min;
    out[2 * b + 1] = max === -Infinity ? 0 : max;
  }
  return out;
}

/** Merge every `factor` consecutive peak pairs into one (factor <= 1 returns the peaks as they are). */
export function reducePeaks(peaks: Float32Array, factor: number): Float32Array {
  const f = Math.floor(factor);
  if (f <= 1) return peaks;
  const pairs = peaks.length / 2;
  const out = new Float32Array(Math.ceil(pairs / f) * 2);
  for (let b = 0; b < out.length / 2; b++) {
    let min = Infinity;
    let max = -Infinity;
    for (let i = b * f; i < Math.min(pairs, (b + 1) * f); i++) {
      min = Math.min(min, peaks[2 * i]!);
      max = Math.max(max, peaks[2 * i + 1]!);
    }
    out[2 * b] = min;
    out[2 * b + 1] = max;
  }
  return out;
}
