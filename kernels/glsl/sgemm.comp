// c[M,N] = alpha * (a[M,K] . b[K,N]), f32 row-major. Register blocking: each invocation owns a 4x4 block of c
// strided by the workgroup size (a 16x16 workgroup covers a 64x64 tile); on lavapipe this beats shared-memory
// tiling (toolchain-notes). Grid-stride over tiles in x and y: the device may launch fewer groups.
#version 450
layout(local_size_x_id = 0, local_size_y_id = 1) in;
layout(std430, set = 0, binding = 0) readonly buffer A { float a[]; };
layout(std430, set = 0, binding = 1) readonly buffer B { float b[]; };
layout(std430, set = 0, binding = 2) writeonly buffer C { float c[]; };
layout(push_constant) uniform Scalars { uint m; uint n; uint k; float alpha; } p;

const uint block = 4;  // rows and columns of c per invocation

void main() {
  const uint tile_w = gl_WorkGroupSize.x * block, tile_h = gl_WorkGroupSize.y * block;
  const uint tiles_x = (p.n + tile_w - 1) / tile_w, tiles_y = (p.m + tile_h - 1) / tile_h;
  for (uint ty = gl_WorkGroupID.y; ty < tiles_y; ty += gl_NumWorkGroups.y) {
    for (uint tx = gl_WorkGroupID.x; tx < tiles_x; tx += gl_NumWorkGroups.x) {
      uint row[block], col[block], arow[block], bcol[block];
      for (uint i = 0; i < block; ++i) {
        row[i] = ty * tile_h + gl_LocalInvocationID.y + gl_WorkGroupSize.y * i;
        col[i] = tx * tile_w + gl_LocalInvocationID.x + gl_WorkGroupSize.x * i;
        // Out-of-range rows and columns load a valid element and are never stored: no branch in the k loop.
        arow[i] = min(row[i], p.m - 1) * p.k;
        bcol[i] = min(col[i], p.n - 1);
      }
      // precise: every product is rounded before its add (no FMA), summed in ascending k like the reference.
      precise float acc[block * block];
      for (uint i = 0; i < block * block; ++i) acc[i] = 0.0;
      for (uint kk = 0; kk < p.k; ++kk) {
        float av[block], bv[block];
        for (uint i = 0; i < block; ++i) av[i] = a[arow[i] + kk];
        for (uint j = 0; j < block; ++j) bv[j] = b[kk * p.n + bcol[j]];
        for (uint i = 0; i < block; ++i)
          for (uint j = 0; j < block; ++j) acc[i * block + j] = acc[i * block + j] + av[i] * bv[j];
      }
      for (uint i = 0; i < block; ++i)
        for (uint j = 0; j < block; ++j)
          if (row[i] < p.m && col[j] < p.n) {
            precise float r = p.alpha * acc[i * block + j];
            c[row[i] * p.n + col[j]] = r;
          }
    }
  }
}
