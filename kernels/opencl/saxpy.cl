// z = a * x + y over n floats; grid-stride like the GLSL version.
#pragma OPENCL FP_CONTRACT OFF
__kernel void saxpy(__global const float* x, __global const float* y, __global float* z, uint n, float a) {
  const uint stride = (uint)get_global_size(0);
  for (uint i = (uint)get_global_id(0); i < n; i += stride) z[i] = a * x[i] + y[i];
}
