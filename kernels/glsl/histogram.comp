// counts[b] = number of x[i] in bin b, exact on every backend. The output is not zeroed by the backend and a
// dispatch has no global barrier, so each workgroup OWNS 256 consecutive bins (group g: bins 256g..256g+255),
// scans the whole input, counts its own bins with shared-memory atomics and stores them: no pre-zeroed output,
// no cross-group atomics. Bin rule (bit tests, not float compares, so denormal flushing cannot change it):
//   NaN: skipped; subnormal x: treated as 0; x < lo: 0; x >= hi: bins-1 (so -inf: 0, +inf: bins-1);
//   else d = x - lo (flushed to 0 when subnormal), b = min(floor(d * scale), bins-1), scale = bins/(hi-lo)
//   rounded to f32 by the host: no division on the device.
#version 450
layout(local_size_x_id = 0, local_size_y_id = 1) in;
layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Counts { uint counts[]; };
layout(push_constant) uniform Scalars { uint n; uint bins; float lo; float hi; float scale; } p;

const uint owned = 256;  // bins per workgroup = spec.local.x
shared uint local_counts[owned];

bool is_nan(float v) { return (floatBitsToUint(v) & 0x7fffffffu) > 0x7f800000u; }
float flush(float v) { return (floatBitsToUint(v) & 0x7f800000u) == 0u ? 0.0 : v; }  // subnormal, -0 -> +0

uint bin_of(float v) {
  if (v < p.lo) return 0;
  if (v >= p.hi) return p.bins - 1;
  precise float d = flush(v - p.lo);
  precise float t = floor(d * p.scale);
  return uint(min(t, float(p.bins - 1)));
}

void main() {
  const uint t = gl_LocalInvocationID.x;
  const uint groups = (p.bins + owned - 1) / owned;
  const uint stride = gl_NumWorkGroups.x * gl_NumWorkGroups.y;
  for (uint g = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x; g < groups; g += stride) {
    const uint first = g * owned;
    local_counts[t] = 0;
    barrier();
    for (uint i = t; i < p.n; i += owned) {
      const float v = x[i];
      if (is_nan(v)) continue;
      const uint b = bin_of(flush(v)) - first;  // wraps to a huge value for bins below this group's
      if (b < owned) atomicAdd(local_counts[b], 1u);
    }
    barrier();
    if (first + t < p.bins) counts[first + t] = local_counts[t];
    barrier();  // local_counts is reused by this group's next set of bins
  }
}
