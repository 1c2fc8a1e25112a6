# The install layout (GNUInstallDirs plus the project's own folders), shared by the install rules
# (cmake/ec_install.cmake) and the packaging tests (tests/packaging), which are configured before them.
include(GNUInstallDirs)

# Modules go under the libdir, not libexec: they are dlopen'ed shared objects (FHS: libexec holds programs run by
# other programs), architecture-dependent (so the multiarch libdir), and private to the agent (their own folder).
set(EC_INSTALL_MODULEDIR "${CMAKE_INSTALL_LIBDIR}/edgecompute/modules"
    CACHE STRING "Where the backend modules are installed (relative to the prefix, or absolute)")
set(EC_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/EdgeCompute")
set(EC_INSTALL_PKGCONFIGDIR "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
# Named after the package, not the project (GNUInstallDirs' DOCDIR would be share/doc/edgecompute).
set(EC_INSTALL_DOCDIR "${CMAKE_INSTALL_DATAROOTDIR}/doc/edge-agent")
set(EC_INSTALL_EXAMPLEDIR "${EC_INSTALL_DOCDIR}/examples")
