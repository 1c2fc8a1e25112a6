# Cross toolchain for 64-bit Arm Linux: Raspberry Pi 4/5 running a 64-bit OS, NVIDIA Jetson, Arm servers.
# Debian 12 host: g++-aarch64-linux-gnu, qemu-user and the arm64 multiarch -dev packages
# (`dpkg --add-architecture arm64`; see docs/ci.md "Cross stage"). Used by the cross-aarch64 presets.
#
# Libraries come from the multiarch directory /usr/lib/aarch64-linux-gnu; headers from /usr/include (shared by all
# architectures) and /usr/include/aarch64-linux-gnu. Programs that run at build time (flatc, glslc) are the host's.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

# CTest runs target binaries through the emulator (binfmt_misc is not available in containers). No `-L`: the
# multiarch loader (/lib/ld-linux-aarch64.so.1) is installed on the host, and with `-L /usr/aarch64-linux-gnu`
# Paho's connect hung at 100 % CPU (toolchain-notes).
find_program(EC_QEMU_AARCH64 qemu-aarch64 NO_CMAKE_FIND_ROOT_PATH)
if(EC_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${EC_QEMU_AARCH64}")
else()
  message(WARNING "qemu-aarch64 not found (apt-get install qemu-user): the build works, CTest cannot run the tests")
endif()

# The multiarch layout lives in the host's own root: "/" re-roots nothing, and ONLY keeps CMake from falling
# back to host-architecture package configs. Programs are never taken from the target root.
set(CMAKE_FIND_ROOT_PATH /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config (CMocka) must read the arm64 .pc files, not the host's.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
