// Custom-kernel test code whose local memory (1 MiB) exceeds any device's: the build succeeds, the enqueue must
// be refused after CL_KERNEL_LOCAL_MEM_SIZE is read.
__kernel void local_hog(__global const float* x, __global float* y) {
  __local float scratch[262144];
  const size_t i = get_global_id(0);
  scratch[get_local_id(0)] = x[i];
  barrier(CLK_LOCAL_MEM_FENCE);
  y[i] = scratch[get_local_id(0)];
}
