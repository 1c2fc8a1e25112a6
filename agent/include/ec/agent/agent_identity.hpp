// The agent's key pair in its state directory: agent.key (PEM, 0600, never leaves the device) and agent.pub.
#pragma once

#include <filesystem>
#include <memory>

#include "ec/protocol/keys.hpp"
#include "ec/protocol/signer.hpp"

namespace ec::agent {

/// The key file names inside the state directory.
inline constexpr const char* private_key_file = "agent.key";
inline constexpr const char* public_key_file = "agent.pub";

/// Creates agent.key and agent.pub when missing; returns the public key (existing or new).
result<protocol::public_key> ensure_identity(const std::filesystem::path& state_dir);
/// Loads the private key (refusing a file readable by group or others) and returns a signer over it.
result<std::unique_ptr<protocol::signer>> load_signer(const std::filesystem::path& state_dir);
/// The public key of an existing identity.
result<protocol::public_key> load_public_key(const std::filesystem::path& state_dir);

}  // namespace ec::agent
