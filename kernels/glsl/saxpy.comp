// z = a * x + y over n floats. Grid-stride: the device may launch fewer groups than n needs.
#version 450
layout(local_size_x_id = 0, local_size_y_id = 1) in;
layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer Y { float y[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Z { float z[]; };
layout(push_constant) uniform Scalars { uint n; float a; } p;

void main() {
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < p.n; i += stride) {
    precise float r = p.a * x[i] + y[i];  // precise: no fused multiply-add, same rounding as the reference
    z[i] = r;
  }
}
