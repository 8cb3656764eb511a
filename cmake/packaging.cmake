# Debian packages with CPack: `cpack -G DEB` in a build configured with
# -DCMAKE_INSTALL_PREFIX=/usr (scripts/check-packaging does both) makes
#   libweft0.1   the shared library (component runtime); its name carries the SONAME's version,
#                so two 0.x minors install side by side (Debian's library package rule);
#   libweft-dev  everything else installed: headers, the static library, the .so link, weft.pc,
#                the CMake package, and the man pages when they are built (component dev).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME weft)
set(CPACK_PACKAGE_VENDOR "the weft authors")
set(CPACK_PACKAGE_CONTACT "the weft authors")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME libweft${WEFT_SOVERSION})
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON) # libc6 (>= ...), from dpkg-shlibdeps
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION
    "weft: threads, queues, pools and processes for C11 (shared library)")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libweft-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
    "libweft${WEFT_SOVERSION} (= ${PROJECT_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE})")
set(CPACK_COMPONENT_DEV_DESCRIPTION
    "weft: threads, queues, pools and processes for C11 (headers, static library, pkg-config and CMake files)")

# Debian wants the license as /usr/share/doc/<package>/copyright in every package.
install(FILES ${PROJECT_SOURCE_DIR}/LICENSE RENAME copyright COMPONENT runtime
        DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${CPACK_DEBIAN_RUNTIME_PACKAGE_NAME})
install(FILES ${PROJECT_SOURCE_DIR}/LICENSE RENAME copyright COMPONENT dev
        DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${CPACK_DEBIAN_DEV_PACKAGE_NAME})

include(CPack)
