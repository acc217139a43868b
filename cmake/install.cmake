# What `cmake --install` puts where (docs/install.md), included by the top
# CMakeLists.txt: the two programs, mgd's private files, the man pages,
# mgctl's shell completions, the docs, the licence notices and the systemd
# unit. Tests and benchmarks are never installed.
include(GNUInstallDirs)

install(TARGETS mgd mgctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The installed programs and module are linked with their relocations
# read-only after start (relro) and every symbol bound at load time (now),
# so that no writable table of function pointers is left to overwrite, as
# Debian links its packages (lintian's hardening-no-bindnow). The images
# mgd builds are linked by mgd's own toolchain, not here.
foreach(target mgd mgctl mgd_serve mg-spt)
  if(TARGET ${target})
    target_link_options(${target} PRIVATE "LINKER:-z,relro,-z,now")
  endif()
endforeach()

# mgd's private files (the daemon module and the spt tender) go where mgd
# looks for them: ../lib/mgd from the folder of the mgd executable
# (base/fsutil.h, mg_own_file), Debian's place for a program's helpers,
# off PATH. Derived from the bin folder rather than CMAKE_INSTALL_LIBDIR,
# which is lib/x86_64-linux-gnu under /usr on Debian.
cmake_path(GET CMAKE_INSTALL_BINDIR PARENT_PATH MGD_INSTALL_PRIVATEDIR)
cmake_path(APPEND MGD_INSTALL_PRIVATEDIR lib mgd)
install(TARGETS mgd_serve LIBRARY DESTINATION ${MGD_INSTALL_PRIVATEDIR})
if(TARGET mg-spt)
  install(TARGETS mg-spt RUNTIME DESTINATION ${MGD_INSTALL_PRIVATEDIR})
endif()

# The man pages, gzipped as Debian ships them (man reads both): every
# docs/man/*.1 and *.5 there is.
file(GLOB MGD_MAN_PAGES CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/docs/man/*.[15]")
set(man_outputs)
foreach(page IN LISTS MGD_MAN_PAGES)
  cmake_path(GET page FILENAME name)
  cmake_path(GET page EXTENSION LAST_ONLY section)
  string(SUBSTRING "${section}" 1 -1 section)
  set(out "${CMAKE_BINARY_DIR}/man/${name}.gz")
  add_custom_command(
    OUTPUT "${out}"
    COMMAND ${CMAKE_COMMAND} "-DOUT=${out}" "-DCMD=gzip|-9n|-c|${page}" -P
            "${PROJECT_SOURCE_DIR}/cmake/to_file.cmake"
    DEPENDS "${page}" "${PROJECT_SOURCE_DIR}/cmake/to_file.cmake"
    COMMENT "Compressing the man page ${name}"
    VERBATIM)
  list(APPEND man_outputs "${out}")
  install(FILES "${out}" DESTINATION "${CMAKE_INSTALL_MANDIR}/man${section}")
endforeach()
add_custom_target(man_pages ALL DEPENDS ${man_outputs})

# mgctl's completion scripts, printed by the mgctl just built: one per
# shell of this list, each in a folder its shell searches by default on
# Debian 12 (docs/install.md): a folder, the file's name, and optionally
# the folder for the prefix /usr. zsh's $fpath has
# /usr/local/share/zsh/site-functions and /usr/share/zsh/vendor-completions
# (Debian's packages' place) but neither of the others, so its folder
# depends on the prefix, which is known only at install time (`cmake
# --install --prefix`, cpack's /usr). fish reads
# PREFIX/share/fish/vendor_completions.d for a prefix whose share/ is in
# $XDG_DATA_DIRS, and /usr's always.
set(MGCTL_COMPLETION_SHELLS bash zsh fish)
set(MGD_COMPLETION_DEST_bash "${CMAKE_INSTALL_DATADIR}/bash-completion/completions" mgctl)
set(MGD_COMPLETION_DEST_zsh "${CMAKE_INSTALL_DATADIR}/zsh/site-functions" _mgctl
                            "${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions")
set(MGD_COMPLETION_DEST_fish "${CMAKE_INSTALL_DATADIR}/fish/vendor_completions.d" mgctl.fish)
set(completion_outputs)
foreach(shell IN LISTS MGCTL_COMPLETION_SHELLS)
  if(NOT DEFINED MGD_COMPLETION_DEST_${shell})
    message(FATAL_ERROR "MGCTL_COMPLETION_SHELLS: no install place for the shell '${shell}'")
  endif()
  list(GET MGD_COMPLETION_DEST_${shell} 0 dir)
  list(GET MGD_COMPLETION_DEST_${shell} 1 name)
  set(out "${CMAKE_BINARY_DIR}/completion/${shell}/${name}")
  add_custom_command(
    OUTPUT "${out}"
    COMMAND ${CMAKE_COMMAND} "-DOUT=${out}" "-DCMD=$<TARGET_FILE:mgctl>|completion|${shell}" -P
            "${PROJECT_SOURCE_DIR}/cmake/to_file.cmake"
    DEPENDS mgctl "${PROJECT_SOURCE_DIR}/cmake/to_file.cmake"
    COMMENT "Writing mgctl's ${shell} completion"
    VERBATIM)
  list(APPEND completion_outputs "${out}")
  list(LENGTH MGD_COMPLETION_DEST_${shell} n)
  if(n EQUAL 2)
    install(FILES "${out}" DESTINATION "${dir}")
  else()
    # chosen at install time; file(INSTALL) adds $DESTDIR and records the
    # file in the install manifest, as install(FILES) does
    list(GET MGD_COMPLETION_DEST_${shell} 2 usr_dir)
    install(
      CODE "if(CMAKE_INSTALL_PREFIX STREQUAL \"/usr\")
              set(dir \"${usr_dir}\")
            else()
              set(dir \"${dir}\")
            endif()
            if(NOT IS_ABSOLUTE \"\${dir}\")
              set(dir \"\${CMAKE_INSTALL_PREFIX}/\${dir}\")
            endif()
            file(INSTALL DESTINATION \"\${dir}\" TYPE FILE PERMISSIONS OWNER_READ OWNER_WRITE
                 GROUP_READ WORLD_READ FILES \"${out}\")")
  endif()
endforeach()
add_custom_target(mgctl_completions ALL DEPENDS ${completion_outputs})

# The docs, with the README above docs/ as in the tree, so that their
# links between each other hold.
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
file(GLOB MGD_DOCS CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/docs/*.md"
     "${PROJECT_SOURCE_DIR}/docs/*.svg")
install(FILES ${MGD_DOCS} DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs)

# The copyright file: mgd's, and the licence of lwIP, whose sources mgd
# embeds when the build has them (runtime/CMakeLists.txt) and whose notice
# must travel with the binaries.
set(MGD_MAINTAINER "mgd maintainers <maintainers@users.noreply.h-seed-1f39d261.example>"
    CACHE STRING "who maintains this build of mgd: the .deb's Maintainer, the copyright's contact")
set(copyright "${CMAKE_BINARY_DIR}/packaging/copyright")
file(READ "${PROJECT_SOURCE_DIR}/packaging/copyright.in" text)
string(CONFIGURE "${text}" text @ONLY)
get_directory_property(lwip_present DIRECTORY runtime DEFINITION MGD_LWIP_PRESENT)
get_directory_property(lwip_dir DIRECTORY runtime DEFINITION MGD_LWIP_DIR)
if(lwip_present)
  cmake_path(GET lwip_dir FILENAME lwip_name)
  file(READ "${lwip_dir}/COPYING" lwip)
  # the licence text as a field of the copyright format: each line
  # indented, an empty one written "."
  string(REGEX REPLACE "[ \t]+\n" "\n" lwip "${lwip}")
  string(STRIP "${lwip}" lwip)
  string(REPLACE "\n\n" "\n.\n" lwip "${lwip}")
  string(REPLACE "\n" "\n " lwip "${lwip}")
  string(APPEND text "\nFiles: runtime/tcpip/lwip/* runtime/include/lwip/* runtime/include/netif/*\n"
         "Comment: ${lwip_name}, from Debian's source package lwip, embedded into mgd\n"
         " and compiled into the images that use the direct stack (docs/network.md)\n"
         "Copyright: 2001, 2002 Swedish Institute of Computer Science\n"
         "License: BSD-3-clause\n ${lwip}\n")
endif()
file(WRITE "${copyright}.tmp" "${text}")
configure_file("${copyright}.tmp" "${copyright}" COPYONLY)
install(FILES "${copyright}" DESTINATION ${CMAKE_INSTALL_DOCDIR})

# The systemd unit, written at install time (cmake/install_unit.cmake).
execute_process(COMMAND pkg-config --variable=systemdsystemunitdir systemd
                OUTPUT_VARIABLE MGD_SYSTEM_UNITDIR OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT MGD_SYSTEM_UNITDIR)
  set(MGD_SYSTEM_UNITDIR /lib/systemd/system)
endif()
install(
  CODE "set(MGD_UNIT_TEMPLATE \"${PROJECT_SOURCE_DIR}/packaging/mgd.service.in\")
        set(MGD_UNIT_OUT \"${CMAKE_BINARY_DIR}/packaging/mgd.service\")
        set(MGD_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
        set(MGD_SYSTEM_UNITDIR \"${MGD_SYSTEM_UNITDIR}\")
        include(\"${PROJECT_SOURCE_DIR}/cmake/install_unit.cmake\")")
