# Android, 64-bit Arm (arm64-v8a): builds libedge_agent.so, the C API, for an app to load through JNI
# (examples/android). Not built on our CI machines: no NDK is packaged in Debian main, so this file is kept and
# documented, not tested.
#
# How to use (Android NDK r25 or later; Android Studio installs it under $ANDROID_HOME/ndk/<version>):
#   export ANDROID_NDK=$HOME/Android/Sdk/ndk/26.1.10909125
#   cmake -S . -B build/android-arm64 -G Ninja -DCMAKE_TOOLCHAIN_FILE=$PWD/toolchains/android-arm64.cmake \
#     -DCMAKE_BUILD_TYPE=MinSizeRel -DEC_BUILD_TESTS=OFF -DEC_BUILD_BENCH=OFF -DEC_BUILD_AGGREGATOR=OFF \
#     -DEC_WITH_VULKAN=OFF -DEC_WITH_OPENCL=OFF -DEC_SHA256_IMPLEMENTATION=mbedtls \
#     -DCMAKE_FIND_ROOT_PATH=<prefix holding Android builds of Paho C/C++, Mbed TLS, OpenSSL, toml++, CLI11>
#   cmake --build build/android-arm64 --target edge_agent
# then copy build/android-arm64/agent/src/c_api/libedge_agent.so to app/src/main/jniLibs/arm64-v8a/.
# Only the C API library is meant for Android: the edge-agent CLI, the aggregator and the tests are not. The
# third-party libraries are not in the NDK: build them with the same toolchain file first (each has a CMake
# build) and name their install prefix in CMAKE_FIND_ROOT_PATH. Generators (flatc, glslc) still run on the host.
# There is no CTest emulator for Android: test the C API on the host (tests/c_api, tests/jni).
if(NOT DEFINED ENV{ANDROID_NDK} OR "$ENV{ANDROID_NDK}" STREQUAL "")
  message(FATAL_ERROR "toolchains/android-arm64.cmake: set ANDROID_NDK to the Android NDK's folder "
                      "(for example \$ANDROID_HOME/ndk/<version>); no NDK is installed on these machines")
endif()
set(ec_android_ndk_toolchain "$ENV{ANDROID_NDK}/build/cmake/android.toolchain.cmake")
if(NOT EXISTS "${ec_android_ndk_toolchain}")
  message(FATAL_ERROR "toolchains/android-arm64.cmake: ${ec_android_ndk_toolchain} does not exist: "
                      "ANDROID_NDK=$ENV{ANDROID_NDK} is not an NDK folder")
endif()

set(ANDROID_ABI arm64-v8a)
# Android 8.0 (API 26) and later; override with -DANDROID_PLATFORM=android-NN.
if(NOT DEFINED ANDROID_PLATFORM)
  set(ANDROID_PLATFORM android-26)
endif()
set(ANDROID_STL c++_shared)
include("${ec_android_ndk_toolchain}")
# The NDK toolchain sets the find modes to search its sysroot and CMAKE_FIND_ROOT_PATH only; programs come from
# the host, so flatc and glslc are the build machine's.
