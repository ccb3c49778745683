/** An output buffer allocated once at its final size, filled in order by an `Emit`. */
export interface BufferSink {
  readonly emit: (bytes: Buffer) => void;
  /** The filled buffer as a plain Uint8Array (a view, no copy). */
  bytes(): Uint8Array;
}

/**
 * A sink of exactly `size` bytes. Never from Buffer's shared pool (allocUnsafeSlow), so the
 * result's `.buffer` holds this output and nothing else; every byte is written before it is read.
 */
export function bufferSink(size: number): BufferSink {
  const out = Buffer.allocUnsafeSlow(size);
  let at = 0;
  return {
    emit: (bytes) => {
      at += bytes.copy(out, at);
    },
    bytes: () => new Uint8Array(out.buffer, out.byteOffset, at),
  };
}
