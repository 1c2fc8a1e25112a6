// The one include of the OpenCL headers, pinned to the 1.2 host API (CMake defines the same target version).
#pragma once

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <CL/cl_ext.h>
