// s[r] = sum of x[r, 0..cols), f32. One workgroup per row (grid-stride over rows in x and y). The summation
// order is part of the ABI so that every backend agrees to the bit: lane t (of 256) sums x[r, t], x[r, t+256],
// ... in ascending order from +0, then a shared-memory tree adds part[t] + part[t + h] for h = 128, 64, ..., 1.
#version 450
layout(local_size_x_id = 0, local_size_y_id = 1) in;
layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer S { float s[]; };
layout(push_constant) uniform Scalars { uint rows; uint cols; } p;

const uint lanes = 256;  // spec.local.x; the tree below needs exactly this many invocations per group
shared float part[lanes];

void main() {
  const uint t = gl_LocalInvocationID.x;
  const uint stride = gl_NumWorkGroups.x * gl_NumWorkGroups.y;
  for (uint r = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x; r < p.rows; r += stride) {
    const uint base = r * p.cols;
    precise float acc = 0.0;
    for (uint j = t; j < p.cols; j += lanes) acc = acc + x[base + j];
    part[t] = acc;
    barrier();
    for (uint h = lanes / 2; h > 0; h >>= 1) {
      if (t < h) {
        precise float v = part[t] + part[t + h];
        part[t] = v;
      }
      barrier();
    }
    if (t == 0) s[r] = part[0];
    barrier();  // part is reused by this group's next row
  }
}
