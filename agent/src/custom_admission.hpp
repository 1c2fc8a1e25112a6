// Admission of custom kernels (protocol.md, "Custom kernels"): the code must be signed by a key in
// trust.code_keys, and its declared local size, dispatch and tensors must fit a device of a backend that can run
// it, all checked before anything is compiled. Every field comes from the network: nothing here may crash.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ec/protocol/message_views.hpp"
#include "ec/protocol/trust_store.hpp"

namespace ec::agent {

/// Vulkan guarantees at least this many workgroups per dimension (lavapipe offers exactly this).
inline constexpr std::uint64_t portable_max_groups_per_dimension = 65535;

/// Why the custom code of `task` is not signed by a trusted code key ("" when it is). `trust` may be null.
std::string custom_signature_problem(const protocol::task_view& task, const protocol::trust_store* trust);

/// Why the shape of the custom code is malformed regardless of device ("" when it is well formed): an entry
/// that is not an identifier, no code at all, SPIR-V not a whole number of words, local and global sizes of
/// different or unsupported rank (1, 2 or 3), zeros, or a global size that is not a multiple of the local size.
std::string custom_code_shape_problem(const protocol::task_view& task);

/// The backend names ("vulkan", "opencl") whose code the task carries.
bool custom_runs_on(const protocol::task_view& task, std::string_view backend);

/// Why the custom call does not fit `device` (local size, dispatch, f64 params without fp64, tensor sizes); ""
/// when it fits.
std::string custom_device_problem(const protocol::task_view& task, const protocol::device_info& device);

}  // namespace ec::agent
