// The protocol's size and verification limits (defaults of protocol.md; the payload cap is configurable).
#pragma once

#include <cstddef>
#include <cstdint>

namespace ec::protocol {

/// Default cap on one MQTT payload (receiver check 1).
inline constexpr std::size_t default_max_payload = 1024 * 1024;
/// Verifier budget of the SignedEnvelope (receiver check 2).
inline constexpr std::uint32_t envelope_max_depth = 16;
inline constexpr std::uint32_t envelope_max_tables = 64;
/// Verifier budget shared by a body and all of its nested blobs (receiver check 5).
inline constexpr std::uint32_t body_max_depth = 16;
inline constexpr std::uint32_t body_max_tables = 8192;
/// decode() of a body may allocate at most factor x body size + slack bytes (shared strings count per use).
inline constexpr std::uint64_t max_decoded_factor = 8;
inline constexpr std::uint64_t max_decoded_slack = 1024 * 1024;
/// At most this many Task or Result blobs in one batch.
inline constexpr std::size_t max_blobs_per_batch = 256;
/// An AgentHello names at most this many resource groups out of service, each of at most this many bytes.
inline constexpr std::size_t max_out_of_service_groups = 64;
inline constexpr std::size_t max_resource_group_name = 64;
/// Lengths fixed by the protocol.
inline constexpr std::size_t key_id_size = 32;
inline constexpr std::size_t signature_size = 64;
/// Longest region prefix accepted by seal/open: "ec/v1/" plus a region of 1..32 characters fits well below.
inline constexpr std::size_t max_prefix_size = 255;
/// Smallest FlatBuffer that can hold a root table (root offset + vtable offset + identifier).
inline constexpr std::size_t min_buffer_size = 12;

}  // namespace ec::protocol
