// counts[b] = number of x[i] in bin b, with the ownership scheme and bin rule of histogram.comp: work-group g
// owns bins 256g..256g+255, scans all of x, counts its bins in local memory and stores them (no pre-zeroed
// output needed). NaN skipped, subnormals as 0, x < lo -> 0, x >= hi -> bins-1, else min(floor(d*scale), bins-1).
#pragma OPENCL FP_CONTRACT OFF
#define OWNED 256

bool is_nan_bits(float v) { return (as_uint(v) & 0x7fffffffu) > 0x7f800000u; }
float flush(float v) { return (as_uint(v) & 0x7f800000u) == 0u ? 0.0f : v; }

uint bin_of(float v, uint bins, float lo, float hi, float scale) {
  if (v < lo) return 0;
  if (v >= hi) return bins - 1;
  const float t = floor(flush(v - lo) * scale);
  return (uint)fmin(t, (float)(bins - 1));
}

__attribute__((reqd_work_group_size(OWNED, 1, 1)))
__kernel void histogram(__global const float* x, __global uint* counts, uint n, uint bins, float lo, float hi,
                        float scale) {
  __local uint local_counts[OWNED];
  const uint t = (uint)get_local_id(0);
  const uint groups = (bins + OWNED - 1) / OWNED;
  const uint stride = (uint)(get_num_groups(0) * get_num_groups(1));
  for (uint g = (uint)(get_group_id(1) * get_num_groups(0) + get_group_id(0)); g < groups; g += stride) {
    const uint first = g * OWNED;
    local_counts[t] = 0;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint i = t; i < n; i += OWNED) {
      const float v = x[i];
      if (is_nan_bits(v)) continue;
      const uint b = bin_of(flush(v), bins, lo, hi, scale) - first;  // wraps for bins below this group's
      if (b < OWNED) atomic_inc(&local_counts[b]);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    if (first + t < bins) counts[first + t] = local_counts[t];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
}
