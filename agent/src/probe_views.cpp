// Text and JSON renderings of a probe report. Text is for owners at a shell; JSON for scripts and fleet tools.
#include <cstdio>
#include <string>

#include "ec/agent/json_writer.hpp"
#include "ec/agent/probe.hpp"
#include "ec/backends/quirks.hpp"
#include "ec/kernels/catalog.hpp"

namespace ec::agent {
namespace {

std::string fmt(const char* format, auto... args) {
  char buf[512];
  std::snprintf(buf, sizeof buf, format, args...);
  return buf;
}

std::string mib(std::uint64_t bytes) { return fmt("%.0f MiB", static_cast<double>(bytes) / (1 << 20)); }

const char* type_name(protocol::device_type t) {
  switch (t) {
    case protocol::device_type::cpu: return "cpu";
    case protocol::device_type::integrated_gpu: return "integrated-gpu";
    case protocol::device_type::discrete_gpu: return "discrete-gpu";
    case protocol::device_type::virtual_gpu: return "virtual-gpu";
    case protocol::device_type::other: return "other";
  }
  return "?";
}

std::string hex(const protocol::bytes& b) {
  std::string s;
  for (auto c : b) s += fmt("%02x", c);
  return s;
}

void text_backends(const probe_report& r, std::string& out) {
  out += "Backends\n";
  for (const auto& b : r.devices->backends())
    out += fmt("  %-7s %-12s %s\n", b.name.c_str(), b.available ? "available" : "unavailable",
               b.available ? (b.module_path.empty() ? "(built in)" : b.module_path.c_str()) : b.why.c_str());
}

void text_devices(const probe_report& r, std::string& out) {
  out += "\nDevices\n";
  out += fmt("  %-12s %-8s %-15s %-10s %-12s %-40s %s\n", "id", "backend", "type", "memory", "max buffer", "name",
             "resource group");
  for (const auto& d : r.devices->devices()) {
    out += fmt("  %-12s %-8s %-15s %-10s %-12s %-40.40s %s\n", d.dev->id().c_str(), d.info.backend.c_str(),
               type_name(d.info.type), mib(d.info.memory_bytes).c_str(), mib(d.info.max_buffer_bytes).c_str(),
               d.info.name.c_str(), d.info.resource_group.c_str());
    out += fmt("  %-12s driver: %s\n", "", d.info.driver.c_str());
    for (const auto& note : backends::quirks_for(d.info).notes) out += fmt("  %-12s quirk: %s\n", "", note.c_str());
  }
}

void text_kernels(const probe_report& r, std::string& out) {
  out += "\nSelf-test and calibration\n";
  out += fmt("  %-11s %-12s %-7s %-7s %11s %9s %9s  %s\n", "kernel", "device", "test", "cached", "ms/call", "GB/s",
             "GFLOP/s", "note");
  for (const auto& st : r.selector->statuses()) {
    const auto& rec = st.record;
    out += fmt("  %-11s %-12s %-7s %-7s %11.3f %9.2f %9.2f  %s\n", std::string(st.kernel->name).c_str(),
               st.device->dev->id().c_str(), rec.passed ? "pass" : "FAIL", st.from_cache ? "yes" : "no",
               rec.seconds_per_call * 1e3, rec.gbps, rec.gflops, rec.reason.c_str());
  }
  out += "\nChosen device per kernel and resource group\n";
  for (const auto* k : kernels::catalog())
    for (const auto& g : r.selector->resource_groups()) {
      const auto* d = r.selector->choose(k->name, g);
      out += fmt("  %-11s %-24s %s\n", std::string(k->name).c_str(), g.c_str(),
                 d ? d->dev->id().c_str() : "(none passed)");
    }
  out += fmt("\nDiscovery %.1f ms, self-tests and calibration %.1f ms\n", r.discover_s * 1e3, r.evaluate_s * 1e3);
}

void json_device(json_writer& j, const probe_report& r, const backends::device_entry& d) {
  const auto& i = d.info;
  j.begin_object().key("id").value(d.dev->id()).key("backend").value(i.backend).key("name").value(i.name);
  j.key("driver").value(i.driver).key("type").value(type_name(i.type)).key("uuid").value(hex(i.uuid));
  j.key("vendor_id").value(std::uint64_t{i.vendor_id}).key("device_id").value(std::uint64_t{i.device_id});
  j.key("memory_bytes").value(i.memory_bytes).key("max_buffer_bytes").value(i.max_buffer_bytes);
  j.key("max_workgroup_size").value(std::uint64_t{i.max_workgroup_size});
  j.key("shared_memory_bytes").value(std::uint64_t{i.shared_memory_bytes});
  j.key("subgroup_size").value(std::uint64_t{i.subgroup_size});
  j.key("fp16").value(i.fp16).key("fp64").value(i.fp64).key("int8").value(i.int8);
  j.key("resource_group").value(i.resource_group);
  j.key("kernels").begin_array();
  for (const auto& k : r.selector->kernels_passed(d)) j.value(k);
  j.end_array().key("quirks").begin_array();
  for (const auto& n : backends::quirks_for(i).notes) j.value(n);
  j.end_array().end_object();
}

}  // namespace

std::string probe_text(const probe_report& r) {
  std::string out;
  text_backends(r, out);
  text_devices(r, out);
  text_kernels(r, out);
  return out;
}

std::string probe_json(const probe_report& r) {
  json_writer j;
  j.begin_object().key("backends").begin_array();
  for (const auto& b : r.devices->backends())
    j.begin_object().key("name").value(b.name).key("available").value(b.available).key("why").value(b.why)
        .key("module").value(b.module_path).end_object();
  j.end_array().key("devices").begin_array();
  for (const auto& d : r.devices->devices()) json_device(j, r, d);
  j.end_array().key("self_tests").begin_array();
  for (const auto& st : r.selector->statuses())
    j.begin_object().key("kernel").value(st.kernel->name).key("device").value(st.device->dev->id())
        .key("passed").value(st.record.passed).key("reason").value(st.record.reason)
        .key("cached").value(st.from_cache).key("seconds_per_call").value(st.record.seconds_per_call)
        .key("gbps").value(st.record.gbps).key("gflops").value(st.record.gflops).end_object();
  j.end_array().key("chosen").begin_array();
  for (const auto* k : kernels::catalog())
    for (const auto& g : r.selector->resource_groups()) {
      const auto* d = r.selector->choose(k->name, g);
      j.begin_object().key("kernel").value(k->name).key("resource_group").value(g).key("device");
      if (d) j.value(d->dev->id()); else j.null();
      j.end_object();
    }
  j.end_array().key("discover_ms").value(r.discover_s * 1e3).key("evaluate_ms").value(r.evaluate_s * 1e3);
  j.end_object();
  return j.str() + "\n";
}

}  // namespace ec::agent
