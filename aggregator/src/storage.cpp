// Names of the storage enums (also the words stored in the database) and the principal name rule.
#include "ec/aggregator/storage.hpp"

namespace ec::aggregator {

std::string_view to_string(principal_kind k) noexcept {
  switch (k) {
    case principal_kind::allowlist:
      return "allowlist";
    case principal_kind::token:
      return "token";
    case principal_kind::open:
      return "open";
  }
  return "unknown";
}

std::string_view to_string(job_state s) noexcept {
  switch (s) {
    case job_state::active:
      return "active";
    case job_state::paused:
      return "paused";
    case job_state::done:
      return "done";
    case job_state::cancelled:
      return "cancelled";
  }
  return "unknown";
}

std::string_view to_string(work_unit_state s) noexcept {
  switch (s) {
    case work_unit_state::pending:
      return "pending";
    case work_unit_state::running:
      return "running";
    case work_unit_state::validated:
      return "validated";
    case work_unit_state::failed:
      return "failed";
  }
  return "unknown";
}

std::string_view to_string(task_state s) noexcept {
  switch (s) {
    case task_state::leased:
      return "leased";
    case task_state::returned:
      return "returned";
    case task_state::freed:
      return "freed";
    case task_state::expired:
      return "expired";
  }
  return "unknown";
}

bool is_valid_principal_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > 64) return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '@' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace ec::aggregator
