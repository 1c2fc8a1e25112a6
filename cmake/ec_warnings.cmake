# Project-wide compiler flags: warnings (errors in CI) and the sanitizer build.
add_compile_options(-Wall -Wextra -Wshadow -Wnon-virtual-dtor -Wconversion -Wno-sign-conversion)
# GCC 12's flow-based bounds warnings fire on libstdc++'s own inlined memcpy/memmove in std::vector::insert and
# std::string assignment at -O2 (GCC PR 105329, 105651, 107138): false positives that no source change can
# avoid everywhere. Out-of-bounds accesses are caught instead by the clang ASan/UBSan build and the fuzzers.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  add_compile_options(-Wno-array-bounds -Wno-restrict -Wno-stringop-overflow -Wno-stringop-overread)
endif()
if(EC_WERROR)
  add_compile_options(-Werror)
endif()
if(EC_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
