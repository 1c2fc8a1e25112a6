// Custom-kernel test code: 8-byte params as scalar kernel arguments (u32 a, f64 b, u32 c, u64 d). One work-item
// writes the bit patterns it reads, and 2 * b computed in double, into y[0..7] (little-endian halves).
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
__kernel void params64(__global uint* y, uint a, double b, uint c, ulong d) {
  const ulong bb = as_ulong(b), twice = as_ulong(2.0 * b);
  y[0] = a;
  y[1] = (uint)bb;
  y[2] = (uint)(bb >> 32);
  y[3] = c;
  y[4] = (uint)d;
  y[5] = (uint)(d >> 32);
  y[6] = (uint)twice;
  y[7] = (uint)(twice >> 32);
}
