# daemon/sources: git mirrors and checkouts (libgit2) and inline source
# trees, as a library of its own so that its tests link only what it needs.
# Included from daemon/CMakeLists.txt.
pkg_check_modules(LIBGIT2 REQUIRED IMPORTED_TARGET libgit2)
# daemon/snapshot: the deterministic ustar archive of a source tree that a
# coordinator hands its pull workers (on base/ only; its link rule is the
# checkout's too)
add_library(mgd_snapshot STATIC ${CMAKE_CURRENT_LIST_DIR}/snapshot.c)
target_include_directories(mgd_snapshot PUBLIC ${PROJECT_SOURCE_DIR})
target_compile_definitions(mgd_snapshot PRIVATE _GNU_SOURCE)
target_link_libraries(mgd_snapshot PUBLIC mgd_base PkgConfig::CJSON)

add_library(mgd_sources STATIC ${CMAKE_CURRENT_LIST_DIR}/sources.c)
target_include_directories(mgd_sources PUBLIC ${PROJECT_SOURCE_DIR})
target_compile_definitions(mgd_sources PRIVATE _GNU_SOURCE)
target_link_libraries(mgd_sources PUBLIC mgd_snapshot mgd_toolchain PkgConfig::LIBGIT2 PkgConfig::CJSON)
