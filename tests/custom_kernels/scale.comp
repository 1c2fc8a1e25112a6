// Custom-kernel test code: y = a * x, one invocation per element (no grid-stride: the dispatch is exact).
// Literal local size 64: a task must declare local_size [64].
#version 450
layout(local_size_x = 64) in;
layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Params { float a; } p;

void main() {
  const uint i = gl_GlobalInvocationID.x;
  y[i] = p.a * x[i];
}
