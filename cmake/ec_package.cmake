# The Debian package (issue 9): `cpack -G DEB` in a configured build makes edge-agent_<version>-1_<arch>.deb, one
# package holding the agent, its backend modules, the aggregator tools when built, and the C API library with its
# development files. One package rather than edge-agent / libedge-agent1 / libedge-agent-dev: everything is
# released together from one tree and the C API's users are few; the split costs three sets of maintainer files and
# symbols tracking for no user today (docs/install.md).
#
# The package adds to the plain install tree (cmake/ec_install.cmake) the files a system service needs, in the
# component `deb_system`, which a plain `cmake --install` leaves out (EXCLUDE_FROM_ALL): /etc/edge-agent/agent.toml
# (a conffile), the hardened unit in /lib/systemd/system, and Debian's copyright and changelog. Maintainer scripts:
# packaging/deb/ (postinst creates the edge-agent user and /var/lib/edge-agent; enables nothing).
set(EC_DEB_DIR "${PROJECT_SOURCE_DIR}/packaging/deb")
set(EC_DEB_MAINTAINER "edgecompute maintainers <edgecompute@lists.example.org>")

install(FILES "${PROJECT_SOURCE_DIR}/examples/agent.toml" DESTINATION /etc/edge-agent COMPONENT deb_system
        EXCLUDE_FROM_ALL)
install(FILES "${PROJECT_SOURCE_DIR}/examples/systemd/edge-agent.service" DESTINATION /lib/systemd/system
        COMPONENT deb_system EXCLUDE_FROM_ALL)

# Debian's changelog, gzip -9n (no name or time stamp in the header, as lintian requires).
string(TIMESTAMP EC_DEB_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)
set(EC_DEB_VERSION "${PROJECT_VERSION}-1")
configure_file("${EC_DEB_DIR}/changelog.in" "${PROJECT_BINARY_DIR}/deb/changelog.Debian" @ONLY)
execute_process(COMMAND gzip -9nf "${PROJECT_BINARY_DIR}/deb/changelog.Debian" RESULT_VARIABLE ec_gzip_failed)
if(ec_gzip_failed)
  message(FATAL_ERROR "gzip failed on ${PROJECT_BINARY_DIR}/deb/changelog.Debian")
endif()
install(FILES "${EC_DEB_DIR}/copyright" "${PROJECT_BINARY_DIR}/deb/changelog.Debian.gz"
        DESTINATION "${CMAKE_INSTALL_DATAROOTDIR}/doc/edge-agent" COMPONENT deb_system EXCLUDE_FROM_ALL)
install(FILES "${EC_DEB_DIR}/edge-agent.lintian-overrides" DESTINATION "${CMAKE_INSTALL_DATAROOTDIR}/lintian/overrides"
        RENAME edge-agent COMPONENT deb_system EXCLUDE_FROM_ALL)

# The target's Debian architecture: from its multiarch triplet, so a cross build (toolchains/aarch64-linux-gnu.cmake)
# says arm64 while `dpkg --print-architecture` (CPack's default) would say the build host's.
find_program(EC_DPKG_ARCHITECTURE dpkg-architecture)
if(EC_DPKG_ARCHITECTURE AND CMAKE_LIBRARY_ARCHITECTURE)
  execute_process(COMMAND "${EC_DPKG_ARCHITECTURE}" -t "${CMAKE_LIBRARY_ARCHITECTURE}" -qDEB_HOST_ARCH
                  OUTPUT_VARIABLE EC_DEB_ARCH OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
endif()
if(EC_DEB_ARCH)
  set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE "${EC_DEB_ARCH}")
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME edge-agent)
set(CPACK_PACKAGE_VENDOR "edgecompute")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "${EC_DEB_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "edgecompute agent: signed micro-tasks on this device's GPUs and CPU")
# Lines under 80 columns (lintian: extended-description-line-too-long).
string(CONCAT CPACK_PACKAGE_DESCRIPTION
    "The edgecompute agent pulls small signed compute tasks from a regional\n"
    "aggregator over MQTT v5, runs them on the device's GPUs (Vulkan, OpenCL) or\n"
    "CPU in sandboxed worker processes, and returns signed results.\n"
    "This package holds the agent, its backend modules, the C API library\n"
    "libedge_agent with its header, CMake package and pkg-config file, and a\n"
    "hardened systemd unit. Nothing is enabled on installation.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${EC_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# postinst runs adduser; GPU drivers are recommended, not required (the CPU backend always works).
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "mesa-vulkan-drivers, libvulkan1, ocl-icd-libopencl1")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "mosquitto-clients, pocl-opencl-icd")
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA "${EC_DEB_DIR}/postinst" "${EC_DEB_DIR}/prerm" "${EC_DEB_DIR}/postrm"
                                       "${EC_DEB_DIR}/triggers"
                                       "${EC_DEB_DIR}/conffiles")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_STRIP_FILES ON)

# One package from the listed components (deb_system is excluded from plain installs, so it must be named).
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)
set(CPACK_COMPONENTS_ALL runtime development examples docs deb_system)
include(CPack)
