# Third-party dependencies, all from Debian 12 packages; nothing is vendored or downloaded.

# Code generators run on the build host, also when cross-compiling: look for them outside the sysroot.
find_program(EC_FLATC flatc REQUIRED NO_CMAKE_FIND_ROOT_PATH)
find_path(EC_FLATBUFFERS_INCLUDE_DIR flatbuffers/flatbuffers.h REQUIRED)
add_library(ec_flatbuffers_headers INTERFACE)
target_include_directories(ec_flatbuffers_headers SYSTEM INTERFACE "${EC_FLATBUFFERS_INCLUDE_DIR}")

# Mbed TLS 2.28 ships neither a CMake config nor a pkg-config file.
find_path(EC_MBEDTLS_INCLUDE_DIR mbedtls/ecdsa.h REQUIRED)
# Firmware images link it statically (libmbedcrypto.a is in libmbedtls-dev): one file fewer on the device, and only
# the archive members the agent calls are linked. Separate cache entries, so the option can be flipped in a tree.
option(EC_STATIC_MBEDTLS "Link Mbed TLS statically" OFF)
if(EC_STATIC_MBEDTLS)
  find_library(EC_MBEDCRYPTO_STATIC_LIBRARY libmbedcrypto.a REQUIRED)
  set(EC_MBEDCRYPTO_LIBRARY "${EC_MBEDCRYPTO_STATIC_LIBRARY}")
else()
  find_library(EC_MBEDCRYPTO_LIBRARY mbedcrypto REQUIRED)
endif()
add_library(ec_mbedcrypto INTERFACE)
target_include_directories(ec_mbedcrypto SYSTEM INTERFACE "${EC_MBEDTLS_INCLUDE_DIR}")
target_link_libraries(ec_mbedcrypto INTERFACE "${EC_MBEDCRYPTO_LIBRARY}")

find_package(OpenSSL 3 REQUIRED COMPONENTS Crypto)
