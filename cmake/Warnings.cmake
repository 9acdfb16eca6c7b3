# Warnings as an INTERFACE target: every project target links phaedo_warnings.
add_library(phaedo_warnings INTERFACE)
target_compile_options(phaedo_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
  -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual -Wimplicit-fallthrough)
if(PHAEDO_WERROR)
  target_compile_options(phaedo_warnings INTERFACE -Werror)
endif()
if(PHAEDO_SANITIZE)
  target_compile_options(phaedo_warnings INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer)
  target_link_options(phaedo_warnings INTERFACE -fsanitize=address,undefined)
endif()
