# Run by cpack after the install rules filled its staging folder
# (CPACK_PRE_BUILD_SCRIPTS, cmake/package.cmake): the files only the .deb
# has. Debian's usr/share/doc/mgd/changelog.Debian.gz, which every .deb
# carries, with one entry for this build, dated by SOURCE_DATE_EPOCH when
# set (reproducible builds) and compressed without a timestamp; and the
# package's lintian overrides.
string(TIMESTAMP date "%a, %d %b %Y %H:%M:%S +0000" UTC)
set(version "${CPACK_PACKAGE_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE}")
set(doc "${CPACK_TEMPORARY_DIRECTORY}${CPACK_PACKAGING_INSTALL_PREFIX}/share/doc/mgd")
if(NOT IS_DIRECTORY "${doc}")
  message(FATAL_ERROR "deb-changelog.cmake: no ${doc} in the staging folder")
endif()
file(WRITE "${doc}/changelog.Debian"
     "mgd (${version}) unstable; urgency=medium\n\n"
     "  * mgd ${CPACK_PACKAGE_VERSION}, packaged by CPack from the source tree.\n\n"
     " -- ${CPACK_MGD_MAINTAINER}  ${date}\n")
execute_process(COMMAND gzip -9nf "${doc}/changelog.Debian" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "deb-changelog.cmake: gzip failed")
endif()

# lintian's overrides, each with its reason: this package is built from
# mgd's own tree, not uploaded to Debian, so there is no ITP bug to close
set(overrides "${CPACK_TEMPORARY_DIRECTORY}${CPACK_PACKAGING_INSTALL_PREFIX}/share/lintian/overrides")
file(MAKE_DIRECTORY "${overrides}")
file(WRITE "${overrides}/mgd"
     "# built from mgd's tree by CPack, not uploaded to Debian: no ITP bug to close\n"
     "mgd: initial-upload-closes-no-bugs\n")
