/**
 * One fuzz mutation of an encoding: 1-4 steps of bit flips, random and boundary bytes, truncation,
 * insertion, deletion and a huge length prefix (a varint of 2^32 - 1), driven by a seeded generator
 * (prng.ts) so a failing case is replayed from its seed and iteration.
 */
export function mutate(src: Uint8Array, rand: () => number): Uint8Array {
  const int = (n: number) => Math.floor(rand() * n);
  let b = Uint8Array.from(src);
  const steps = 1 + int(4);
  for (let s = 0; s < steps; s++) {
    switch (int(7)) {
      case 0: if (b.length > 0) { const i = int(b.length); b[i] = b[i]! ^ (1 << int(8)); } break; // bit flip
      case 1: if (b.length > 0) b[int(b.length)] = int(256); break; // random byte
      case 2: b = b.subarray(0, int(b.length + 1)); break; // truncation
      case 3: { const i = int(b.length + 1); const ins = Uint8Array.from({ length: 1 + int(8) }, () => int(256)); b = Uint8Array.from([...b.subarray(0, i), ...ins, ...b.subarray(i)]); break; } // insertion
      case 4: if (b.length > 0) { const i = int(b.length); b[i] = [0x00, 0x7f, 0x80, 0xff][int(4)]!; } break; // boundary byte
      case 5: if (b.length > 2) { const i = int(b.length - 1); b = Uint8Array.from([...b.subarray(0, i), ...b.subarray(i + 1 + int(Math.min(16, b.length - i - 1)))]); } break; // deletion
      default: { const i = int(b.length + 1); const varint = [0xff, 0xff, 0xff, 0xff, 0x0f]; b = Uint8Array.from([...b.subarray(0, i), ...varint, ...b.subarray(i)]); } // huge length prefix
    }
  }
  return b;
}
