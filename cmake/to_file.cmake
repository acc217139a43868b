# Runs one command at build time and writes what it prints to a file,
# failing the build when the command fails (add_custom_command has no
# portable redirection, and mgd starts no process through a shell).
#   cmake -DOUT=FILE -DCMD="PROGRAM|ARG|..." -P to_file.cmake
string(REPLACE "|" ";" CMD "${CMD}")
get_filename_component(dir "${OUT}" DIRECTORY)
file(MAKE_DIRECTORY "${dir}")
execute_process(COMMAND ${CMD} OUTPUT_FILE "${OUT}.tmp" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  file(REMOVE "${OUT}.tmp")
  message(FATAL_ERROR "'${CMD}' failed (${rc}): ${OUT} not written")
endif()
file(SIZE "${OUT}.tmp" size)
if(size EQUAL 0)
  file(REMOVE "${OUT}.tmp")
  message(FATAL_ERROR "'${CMD}' printed nothing: ${OUT} not written")
endif()
file(RENAME "${OUT}.tmp" "${OUT}")
