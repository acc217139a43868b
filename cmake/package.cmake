# The .deb of mgd (`cpack -G DEB` in a build tree; docs/install.md),
# included by the top CMakeLists.txt after cmake/install.cmake, whose
# rules fill it, under /usr whatever prefix the tree has. Its
# dependencies are Debian 12 package names: the shared libraries' from
# dpkg-shlibdeps, the programs mgd runs listed here.
set(CPACK_PACKAGE_NAME mgd)
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "${MGD_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "unikernel build service")
set(CPACK_PACKAGE_DESCRIPTION
    "mgd turns a config document and C sources into a unikernel image for a\n"
    "target (a hosted Linux executable, an spt process under its tender, a\n"
    "virtio machine for QEMU). It builds locally (mgd build) or as a daemon\n"
    "with a REST API, a build queue and a web dashboard (mgd serve), every\n"
    "build action in a bubblewrap sandbox, with a content-addressed action\n"
    "cache. mgctl is its command-line client.")
string(REPLACE ";" "" CPACK_PACKAGE_DESCRIPTION "${CPACK_PACKAGE_DESCRIPTION}")
set(CPACK_GENERATOR DEB)
set(CPACK_STRIP_FILES ON)
# The install rules run with the packaging prefix as CMAKE_INSTALL_PREFIX
# and the staging folder as DESTDIR, so that the unit written at install
# time names /usr/bin/mgd, not the staging folder (cmake/install_unit.cmake)
set(CPACK_SET_DESTDIR ON)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_INSTALL_PREFIX /usr)

set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# what mgd runs: bwrap for the sandbox of every action, the host's C
# compiler, binutils (ar, strip) and C library for unix images (prlimit
# comes with util-linux, which is essential)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "bubblewrap, gcc, binutils, libc6-dev")
# dot draws device graphs (the API's SVG); QEMU runs virtio images (mgd
# run); git over https needs the CA certificates
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "graphviz, qemu-system-x86, ca-certificates")
# cross-builds for aarch64 and riscv64 and running them, virtio on those
# arches, and distcc (--distcc)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS
    "gcc-aarch64-linux-gnu, libc6-dev-arm64-cross, gcc-riscv64-linux-gnu, "
    "libc6-dev-riscv64-cross, qemu-user-static, qemu-system-arm, qemu-system-misc, distcc")
string(REPLACE ";" "" CPACK_DEBIAN_PACKAGE_SUGGESTS "${CPACK_DEBIAN_PACKAGE_SUGGESTS}")
# enabling and starting the service, stopping it on removal, and its data
# removed on purge (packaging/postinst, prerm, postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA "${PROJECT_SOURCE_DIR}/packaging/postinst"
    "${PROJECT_SOURCE_DIR}/packaging/prerm" "${PROJECT_SOURCE_DIR}/packaging/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# Debian's changelog.Debian.gz and lintian overrides, written into the
# staging folder before it is packed (packaging/deb-files.cmake)
set(CPACK_PRE_BUILD_SCRIPTS "${PROJECT_SOURCE_DIR}/packaging/deb-files.cmake")
set(CPACK_MGD_MAINTAINER "${MGD_MAINTAINER}")
include(CPack)
