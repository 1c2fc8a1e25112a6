# Project-wide compiler flags: warnings (errors in CI) and the sanitizer build.
add_compile_options(-Wall -Wextra -Wshadow -Wnon-virtual-dtor -Wconversion -Wno-sign-conversion)
if(EC_WERROR)
  add_compile_options(-Werror)
endif()
if(EC_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
