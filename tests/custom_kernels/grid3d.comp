// Custom-kernel test code: a 3-D dispatch. Each invocation writes a known function of its global id,
// y[x + X * (y + Y * z)] = x + 1000 * y + 1000000 * z, with X and Y the global sizes (no grid-stride: the dispatch
// is exact). Literal local size 4x2x2: a task must declare local_size [4, 2, 2].
#version 450
layout(local_size_x = 4, local_size_y = 2, local_size_z = 2) in;
layout(std430, set = 0, binding = 0) writeonly buffer Y { uint y[]; };

void main() {
  const uvec3 id = gl_GlobalInvocationID;
  const uvec3 size = gl_NumWorkGroups * gl_WorkGroupSize;
  y[id.x + size.x * (id.y + size.y * id.z)] = id.x + 1000u * id.y + 1000000u * id.z;
}
