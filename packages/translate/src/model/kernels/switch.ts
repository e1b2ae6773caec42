let enabled = true;

/**
 * Turns the app's own kernels (the batched matmul, dropout) off — every op then runs on tfjs's kernels — or back
 * on, process-wide. For measuring what they buy (`el-translate bench` runs an engine with them off); results are
 * the same network either way (dropout masks differ: another generator).
 */
export function experimental_setAppKernels(on: boolean): void {
  enabled = on;
}

/** Whether the app's own kernels are on (default). */
export function appKernelsEnabled(): boolean {
  return enabled;
}
