// dst = src over n 32-bit words; grid-stride like the GLSL version.
__kernel void copy(__global const uint* src, __global uint* dst, uint n) {
  const uint stride = (uint)get_global_size(0);
  for (uint i = (uint)get_global_id(0); i < n; i += stride) dst[i] = src[i];
}
