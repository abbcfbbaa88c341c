# Writes a C++ include file holding one file's bytes as an array (hex, so no
# compiler limit on string literals applies and any content is safe):
#   cmake -DIN=<file> -DOUT=<file.inc> -DNAME=<identifier> -P embed_file.cmake
# defines `inline constexpr unsigned char NAME[]` (not NUL-terminated).
file(READ "${IN}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)"
       "\\1\n" bytes "${bytes}")
get_filename_component(source_name "${IN}" NAME)
set(content "// Generated from ${source_name} by cmake/embed_file.cmake: do not edit.
#pragma once
inline constexpr unsigned char ${NAME}[] = {
${bytes}
};
")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
  if(old STREQUAL content)
    return()
  endif()
endif()
file(WRITE "${OUT}" "${content}")
