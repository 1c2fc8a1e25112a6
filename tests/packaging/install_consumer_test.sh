#!/usr/bin/env bash
# Installs a build tree into a temporary prefix (`cmake --install --prefix`) and proves the result is usable the
# way a third party uses it: the layout is complete, the installed agent loads the installed modules (not the build
# tree's), and examples/consumer builds through find_package(EdgeCompute) and through pkg-config, links the
# installed libedge_agent.so, and runs. The prefix is removed afterwards.
set -euo pipefail

die() { echo "install_consumer_test: $*" >&2; exit 1; }

modules=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir=$2 ;;
    --consumer-dir) consumer_dir=$2 ;;
    --cmake) cmake=$2 ;;
    --c-compiler) cc=$2 ;;
    --pkg-config) pkg_config=$2 ;;
    --bindir) bindir=$2 ;;
    --libdir) libdir=$2 ;;
    --moduledir) moduledir=$2 ;;
    --modules) modules=$2 ;;
    *) die "unknown argument $1" ;;
  esac
  shift 2
done
for v in build_dir consumer_dir cmake cc pkg_config bindir libdir moduledir; do
  [[ -n "${!v:-}" ]] || die "--${v//_/-} is required"
done

work=$(mktemp -d /tmp/ec-install-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"

if ! "$cmake" --install "$build_dir" --prefix "$prefix" >"$work/install.log"; then
  cat "$work/install.log"
  die "install failed"
fi

# Paths under the prefix unless GNUInstallDirs made them absolute.
under_prefix() { [[ "$1" = /* ]] && echo "$1" || echo "$prefix/$1"; }
bin=$(under_prefix "$bindir")
lib=$(under_prefix "$libdir")
mods=$(under_prefix "$moduledir")

for f in "$bin/edge-agent" "$lib/libedge_agent.so.1.0.0" "$prefix/include/edge_agent.h" \
         "$lib/cmake/EdgeCompute/EdgeComputeConfig.cmake" "$lib/cmake/EdgeCompute/EdgeComputeConfigVersion.cmake" \
         "$lib/pkgconfig/edge-agent.pc" "$prefix/share/doc/edge-agent/examples/agent.toml" \
         "$prefix/share/doc/edge-agent/examples/edge-agent.service"; do
  [[ -f "$f" ]] || die "not installed: ${f#"$prefix"/}"
done
[[ "$(readlink "$lib/libedge_agent.so.1")" == libedge_agent.so.1.0.0 ]] || die "libedge_agent.so.1 is no SONAME link"
[[ "$(readlink "$lib/libedge_agent.so")" == libedge_agent.so.1 ]] || die "libedge_agent.so is not the dev link"
IFS=, read -r -a expected_modules <<<"$modules"
for m in "${expected_modules[@]}"; do
  [[ -f "$mods/$m" ]] || die "module not installed: $mods/$m"
done

# The installed agent must look in the installed module folder without being told (no EC_BACKEND_PATH).
version=$("$bin/edge-agent" version)
[[ "$version" == "edge-agent "* ]] || die "edge-agent version printed '$version'"
probe_json=$(env -u EC_BACKEND_PATH "$bin/edge-agent" probe --no-calibrate --json --state-dir "$work/probe-state")
for name in vulkan opencl; do
  grep -q "\"module\": *\"$mods/libec_backend_$name.so\"" <<<"$probe_json" ||
    die "the installed agent does not look for the $name module in $mods: $probe_json"
done
for m in "${expected_modules[@]}"; do
  # A module the build made loads from the install ("module <path> not found" / "cannot load module" otherwise).
  if grep -q "module $mods/$m not found\|cannot load module" <<<"$probe_json"; then
    die "the installed agent did not load $mods/$m: $probe_json"
  fi
done

# find_package(EdgeCompute) -> EdgeCompute::edge_agent.
"$cmake" -S "$consumer_dir" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" \
  >"$work/configure.log" 2>&1 || { cat "$work/configure.log"; die "consumer configure failed"; }
"$cmake" --build "$work/cmake-build" >"$work/build.log" 2>&1 || { cat "$work/build.log"; die "consumer build failed"; }
linked=$(ldd "$work/cmake-build/edge_agent_consumer")
grep -q "libedge_agent.so.1 => $lib/libedge_agent.so.1" <<<"$linked" ||
  die "the find_package consumer does not use the installed library: $linked"
"$work/cmake-build/edge_agent_consumer" "$work/state-cmake"

# pkg-config edge-agent (relocatable .pc: its paths follow the prefix).
export PKG_CONFIG_PATH="$lib/pkgconfig"
[[ "$("$pkg_config" --modversion edge-agent)" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "edge-agent.pc has no version"
pc_libdir=$(realpath "$("$pkg_config" --variable=libdir edge-agent)")
[[ "$pc_libdir" == "$(realpath "$lib")" ]] || die "edge-agent.pc libdir is $pc_libdir, not $lib"
read -r -a pc_flags <<<"$("$pkg_config" --cflags --libs edge-agent)"
"$cc" -std=c11 -Wall -Wextra -Werror "$consumer_dir/consumer.c" "${pc_flags[@]}" -o "$work/pc-consumer"
LD_LIBRARY_PATH="$lib" "$work/pc-consumer" "$work/state-pkgconfig"
echo "install_consumer_test: passed"
