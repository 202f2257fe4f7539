// Video frames painted off the main thread: the stage transfers each presented VideoFrame (captured from the
// <video> element, whose decoder runs on the browser's media threads) and its OffscreenCanvas; here the frame
// becomes an ImageBitmap (createImageBitmap, the colour conversion) and is drawn, then closed at once.
let canvas: OffscreenCanvas | null = null;
let ctx: OffscreenCanvasRenderingContext2D | null = null;
// Frames are converted concurrently (createImageBitmap is awaited), so an earlier frame may be ready after a later
// one: only the latest frame received is drawn (quick arrow-key steps left frame 1 painted over frame 10).
let received = 0;

interface FrameMessage {
  canvas?: OffscreenCanvas;
  frame?: VideoFrame;
  index?: number;
}

self.onmessage = async (e: MessageEvent<FrameMessage>) => {
  if (e.data.canvas) {
    canvas = e.data.canvas;
    ctx = canvas.getContext("2d");
  }
  const frame = e.data.frame;
  if (!frame) return;
  const seq = ++received;
  try {
    if (!canvas || !ctx) return;
    const bitmap = await createImageBitmap(frame);
    if (seq !== received) {
      bitmap.close(); // a later frame came in meanwhile: it is the one to show
      return;
    }
    if (canvas.width !== bitmap.width || canvas.height !== bitmap.height) {
      canvas.width = bitmap.width;
      canvas.height = bitmap.height;
    }
    ctx.drawImage(bitmap, 0, 0);
    bitmap.close();
    (self as unknown as Worker).postMessage({ drawn: e.data.index ?? -1 });
  } finally {
    frame.close();
  }
};
