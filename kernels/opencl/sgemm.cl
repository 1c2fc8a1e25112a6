// c[M,N] = alpha * (a[M,K] . b[K,N]); same register blocking, summation order and grid-stride as sgemm.comp:
// each work-item owns a 4x4 block of c strided by the local size (16x16 local = 64x64 tile).
#pragma OPENCL FP_CONTRACT OFF
#define BLOCK 4
__kernel void sgemm(__global const float* a, __global const float* b, __global float* c, uint m, uint n, uint k,
                    float alpha) {
  const uint lx = (uint)get_local_size(0), ly = (uint)get_local_size(1);
  const uint tile_w = lx * BLOCK, tile_h = ly * BLOCK;
  const uint tiles_x = (n + tile_w - 1) / tile_w, tiles_y = (m + tile_h - 1) / tile_h;
  for (uint ty = (uint)get_group_id(1); ty < tiles_y; ty += (uint)get_num_groups(1)) {
    for (uint tx = (uint)get_group_id(0); tx < tiles_x; tx += (uint)get_num_groups(0)) {
      uint row[BLOCK], col[BLOCK], arow[BLOCK], bcol[BLOCK];
      for (uint i = 0; i < BLOCK; ++i) {
        row[i] = ty * tile_h + (uint)get_local_id(1) + ly * i;
        col[i] = tx * tile_w + (uint)get_local_id(0) + lx * i;
        arow[i] = min(row[i], m - 1) * k;  // out-of-range rows/columns load a valid element, never stored
        bcol[i] = min(col[i], n - 1);
      }
      float acc[BLOCK * BLOCK];
      for (uint i = 0; i < BLOCK * BLOCK; ++i) acc[i] = 0.0f;
      for (uint kk = 0; kk < k; ++kk) {
        float av[BLOCK], bv[BLOCK];
        for (uint i = 0; i < BLOCK; ++i) av[i] = a[arow[i] + kk];
        for (uint j = 0; j < BLOCK; ++j) bv[j] = b[kk * n + bcol[j]];
        for (uint i = 0; i < BLOCK; ++i)
          for (uint j = 0; j < BLOCK; ++j) acc[i * BLOCK + j] = acc[i * BLOCK + j] + av[i] * bv[j];
      }
      for (uint i = 0; i < BLOCK; ++i)
        for (uint j = 0; j < BLOCK; ++j)
          if (row[i] < m && col[j] < n) c[row[i] * n + col[j]] = alpha * acc[i * BLOCK + j];
    }
  }
}
