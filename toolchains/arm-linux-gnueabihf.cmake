# Cross toolchain for 32-bit Arm Linux: 32-bit Raspberry Pi OS and other Debian armhf systems. Debian's armhf
# is ARMv7-A with VFPv3-D16 (hard float), so it runs on Raspberry Pi 2 and later, NOT on Pi Zero/Zero W/1
# (ARMv6: Raspberry Pi OS builds its own armhf for those). Debian 12 host: g++-arm-linux-gnueabihf, qemu-user.
#
# Third-party libraries come from one of two places:
#  - EC_ARMHF_SYSROOT (default build/armhf-sysroot, made by scripts/cross-sysroot-armhf): the armhf -dev packages
#    unpacked into a folder, used where multiarch armhf cannot be installed (our mirror's armhf index is broken);
#  - otherwise the multiarch directories (`dpkg --add-architecture armhf` and the :armhf -dev packages).
# glibc and libstdc++ are the cross compiler's (/usr/arm-linux-gnueabihf). Programs run at build time (flatc,
# glslc) are the host's.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR armv7l)
set(CMAKE_LIBRARY_ARCHITECTURE arm-linux-gnueabihf)

set(CMAKE_C_COMPILER arm-linux-gnueabihf-gcc)
set(CMAKE_CXX_COMPILER arm-linux-gnueabihf-g++)

set(EC_ARMHF_SYSROOT "${CMAKE_CURRENT_LIST_DIR}/../build/armhf-sysroot" CACHE PATH
    "Unpacked armhf -dev packages (scripts/cross-sysroot-armhf); unused when absent")
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES EC_ARMHF_SYSROOT)

set(CMAKE_FIND_ROOT_PATH /)
if(IS_DIRECTORY "${EC_ARMHF_SYSROOT}/usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}")
  get_filename_component(ec_armhf_sysroot "${EC_ARMHF_SYSROOT}" ABSOLUTE)
  list(PREPEND CMAKE_FIND_ROOT_PATH "${ec_armhf_sysroot}")
  # The compiler's multiarch include path is the host's /usr/include/arm-linux-gnueabihf, not the folder's
  # (OpenSSL's opensslconf.h is per architecture).
  foreach(lang C CXX)
    set(CMAKE_${lang}_STANDARD_INCLUDE_DIRECTORIES "${ec_armhf_sysroot}/usr/include/${CMAKE_LIBRARY_ARCHITECTURE}"
                                                   "${ec_armhf_sysroot}/usr/include")
  endforeach()
  # The linker resolves the libraries' own dependencies (Paho C -> libssl) from the folder too, and so must the
  # loader under qemu: DT_RPATH (not RUNPATH) also applies to those indirect dependencies.
  set(ec_armhf_libdir "${ec_armhf_sysroot}/usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}")
  foreach(kind EXE SHARED MODULE)
    set(CMAKE_${kind}_LINKER_FLAGS_INIT "-Wl,-rpath-link,${ec_armhf_libdir} -Wl,--disable-new-dtags")
  endforeach()
endif()
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# CTest runs target binaries through qemu-arm (no binfmt_misc in containers). No `-L` (toolchain-notes: with
# it Paho's connect hung under qemu-aarch64); without multiarch armhf the loader is found through
# QEMU_LD_PREFIX=/usr/arm-linux-gnueabihf, set by the cross-armhf test preset.
find_program(EC_QEMU_ARM qemu-arm NO_CMAKE_FIND_ROOT_PATH)
if(EC_QEMU_ARM)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${EC_QEMU_ARM}")
else()
  message(WARNING "qemu-arm not found (apt-get install qemu-user): the build works, CTest cannot run the tests")
endif()

set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/arm-linux-gnueabihf/pkgconfig:/usr/share/pkgconfig")
