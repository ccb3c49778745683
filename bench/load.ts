/** A closed-loop load: `concurrency` workers each repeat `op` until `seconds` have passed. */
export async function closedLoop(
  op: () => Promise<unknown>,
  concurrency: number,
  seconds: number,
): Promise<{ count: number; rate: number; p50: string; p99: string }> {
  const latencies: number[] = [];
  const end = performance.now() + seconds * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      const t = performance.now();
      await op();
      latencies.push(performance.now() - t);
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (p: number) =>
    (latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN).toFixed(1);
  return { count: latencies.length, rate: latencies.length / elapsed, p50: q(0.5), p99: q(0.99) };
}
