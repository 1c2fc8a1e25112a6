// Custom-kernel test code: a 3-D NDRange. Each work-item writes a known function of its global id,
// y[x + X * (y + Y * z)] = x + 1000 * y + 1000000 * z, with X and Y the global sizes.
__kernel void grid3d(__global uint* y) {
  const size_t x = get_global_id(0), yy = get_global_id(1), z = get_global_id(2);
  y[x + get_global_size(0) * (yy + get_global_size(1) * z)] = (uint)(x + 1000 * yy + 1000000 * z);
}
