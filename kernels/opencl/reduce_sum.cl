// s[r] = sum of x[r, 0..cols), in the order fixed by reduce_sum.comp: 256 strided lane sums from +0, then a
// local-memory tree part[t] + part[t + h], h = 128 .. 1. One work-group per row, grid-stride over rows.
#pragma OPENCL FP_CONTRACT OFF
#define LANES 256
__attribute__((reqd_work_group_size(LANES, 1, 1)))
__kernel void reduce_sum(__global const float* x, __global float* s, uint rows, uint cols) {
  __local float part[LANES];
  const uint t = (uint)get_local_id(0);
  const uint stride = (uint)(get_num_groups(0) * get_num_groups(1));
  for (uint r = (uint)(get_group_id(1) * get_num_groups(0) + get_group_id(0)); r < rows; r += stride) {
    const uint base = r * cols;
    float acc = 0.0f;
    for (uint j = t; j < cols; j += LANES) acc = acc + x[base + j];
    part[t] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint h = LANES / 2; h > 0; h >>= 1) {
      if (t < h) part[t] = part[t] + part[t + h];
      barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (t == 0) s[r] = part[0];
    barrier(CLK_LOCAL_MEM_FENCE);  // part is reused by this group's next row
  }
}
