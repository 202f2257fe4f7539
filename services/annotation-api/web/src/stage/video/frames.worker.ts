// Video frames painted off the main thread: the stage transfers each presented VideoFrame (captured from the
// <video> element, whose decoder runs on the browser's media threads) and its OffscreenCanvas; here the frame
// becomes an ImageBitmap (createImageBitmap, the colour conversion) and is drawn, then closed at once.
let canvas: OffscreenCanvas | null = null;
let ctx: OffscreenCanvasRenderingContext2D | null = null;

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
  try {
    if (!canvas || !ctx) return;
    const bitmap = await createImageBitmap(frame);
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
