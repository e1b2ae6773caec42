import type { Task } from './task.js';

/** Class colours of the decision-boundary pictures (Okabe–Ito: orange, sky blue, bluish green). */
export const CLASS_COLORS: [number, number, number][] = [
  [230, 159, 0],
  [86, 180, 233],
  [0, 158, 115],
];

/**
 * Paints a decision boundary: each grid cell in the colour of its predicted class, paler where the model is less
 * sure, then the test points on top. `probabilities` is `[G·G, K]` row by row from the top-left.
 */
export function drawBoundary(
  canvas: HTMLCanvasElement,
  probabilities: Float32Array,
  gridSize: number,
  extent: number,
  test: Task,
): void {
  const context = canvas.getContext('2d')!;
  const size = canvas.width;
  const image = context.createImageData(gridSize, gridSize);
  const k = test.classes;
  for (let i = 0; i < gridSize * gridSize; i++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (probabilities[i * k + c] > probabilities[i * k + best]) best = c;
    // Confidence 1/K → white, 1 → the full class colour (at 55 % so the points stay visible).
    const strength = 0.55 * Math.max(0, (probabilities[i * k + best] - 1 / k) / (1 - 1 / k));
    const [r, g, b] = CLASS_COLORS[best];
    image.data[4 * i] = 255 + (r - 255) * strength;
    image.data[4 * i + 1] = 255 + (g - 255) * strength;
    image.data[4 * i + 2] = 255 + (b - 255) * strength;
    image.data[4 * i + 3] = 255;
  }
  const cells = new OffscreenCanvas(gridSize, gridSize);
  cells.getContext('2d')!.putImageData(image, 0, 0);
  context.imageSmoothingEnabled = true;
  context.drawImage(cells, 0, 0, size, size);
  const scale = size / (2 * extent);
  context.lineWidth = 0.75;
  context.strokeStyle = 'rgba(0, 0, 0, 0.55)';
  for (let i = 0; i < test.count; i += 2) {
    const [r, g, b] = CLASS_COLORS[test.labels[i]];
    context.fillStyle = `rgb(${r}, ${g}, ${b})`;
    context.beginPath();
    context.arc(
      (test.points[2 * i] + extent) * scale,
      (extent - test.points[2 * i + 1]) * scale,
      2.5,
      0,
      2 * Math.PI,
    );
    context.fill();
    context.stroke();
  }
}
