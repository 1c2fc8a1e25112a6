// Custom kernels inside the agent after admission: the call a backend runs (built from the verified Task blob)
// and the device that runs it (any device of a backend the code targets, in the executor's resource group).
#pragma once

#include <optional>
#include <string_view>

#include "ec/backends/custom_kernel.hpp"
#include "ec/backends/selection.hpp"
#include "ec/protocol/message_views.hpp"

namespace ec::agent {

/// The custom call of an admitted custom task (views into the task blob), or nothing for a catalogue task.
/// Params become 4- or 8-byte scalars by dtype; admission has refused other dtypes and malformed sizes already.
std::optional<backends::custom_call> custom_call_for(const protocol::task_view& task);

/// Why a param cannot be a custom kernel's scalar ("" when all can): u32, i32, u64 (non-negative), f32 and f64
/// can (the wire has no i64 dtype); u8 cannot.
std::string custom_params_problem(const protocol::task_view& task);

/// The device of `resource_group` that runs `call`: the hinted backend first, then Vulkan (SPIR-V), then OpenCL.
const backends::device_entry* choose_custom_device(const backends::device_selector& selector,
                                                   const backends::custom_call& call, std::string_view resource_group,
                                                   std::string_view backend_hint);

}  // namespace ec::agent
