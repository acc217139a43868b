# Installs mgd.service, run by `cmake --install` (and by cpack) from
# cmake/install.cmake: at install time, because the unit names mgd by its
# absolute path, which is known only then (`cmake --install --prefix DIR`
# changes it after configuring). The unit goes to the prefix's
# lib/systemd/system (systemd reads /usr/local/lib/systemd/system too),
# except for the prefix /usr, where it goes to the system's unit folder
# (Debian 12: /lib/systemd/system, as systemd.pc says).
# In: MGD_UNIT_TEMPLATE, MGD_UNIT_OUT (a file in the build tree),
# MGD_BINDIR (CMAKE_INSTALL_BINDIR), MGD_SYSTEM_UNITDIR.
if(IS_ABSOLUTE "${MGD_BINDIR}")
  set(MGD_BINDIR_FULL "${MGD_BINDIR}")
else()
  set(MGD_BINDIR_FULL "${CMAKE_INSTALL_PREFIX}/${MGD_BINDIR}")
endif()
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(unitdir "${MGD_SYSTEM_UNITDIR}")
else()
  set(unitdir "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
endif()
set(MGD_BINDIR "${MGD_BINDIR_FULL}")
configure_file("${MGD_UNIT_TEMPLATE}" "${MGD_UNIT_OUT}" @ONLY)
# file(INSTALL) adds $DESTDIR and records the file in the install manifest
file(INSTALL DESTINATION "${unitdir}" TYPE FILE PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ
     WORLD_READ FILES "${MGD_UNIT_OUT}")
