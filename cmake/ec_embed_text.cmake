# cmake -DIN=file -DOUT=file.inc -P ec_embed_text.cmake: wraps a text file in a C++ raw string literal so that
# `constexpr std::string_view s =\n#include "file.inc"\n;` embeds it. Runs on the build host.
file(READ "${IN}" content)
string(FIND "${content}" ")ec_embed\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${IN} contains the raw-string delimiter )ec_embed\"")
endif()
file(WRITE "${OUT}.tmp" "R\"ec_embed(${content})ec_embed\"\n")
file(RENAME "${OUT}.tmp" "${OUT}")
