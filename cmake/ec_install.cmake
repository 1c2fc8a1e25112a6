# Install rules (issue 9): `cmake --install` lays out binaries, the C API library and header, the backend modules,
# a CMake package (find_package(EdgeCompute) -> EdgeCompute::edge_agent), a pkg-config file (edge-agent.pc) and
# the example configuration. Included once, at the end of the top-level CMakeLists.txt, after every target exists.
#
# Components: `runtime` (binaries, modules, libedge_agent.so.1), `development` (header, .so link, CMake package,
# edge-agent.pc), `examples` (agent.toml and the hardened unit under share/doc, to adapt), `docs`. The .deb adds
# its own system files (cmake/ec_package.cmake).
include(ec_install_dirs)
include(CMakePackageConfigHelpers)

# The registry finds the modules of the install it runs from (backends/src/module_location.cpp).
if(TARGET ec_backends)
  target_compile_definitions(ec_backends PRIVATE EC_INSTALL_BINDIR="${CMAKE_INSTALL_BINDIR}"
                                                 EC_INSTALL_LIBDIR="${CMAKE_INSTALL_LIBDIR}"
                                                 EC_INSTALL_MODULEDIR="${EC_INSTALL_MODULEDIR}")
endif()

install(TARGETS edge-agent RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT runtime)
# The region's server and its CLI: installed by `cmake --install`, but their own component, which the edge-agent
# .deb (cmake/ec_package.cmake, CPACK_COMPONENTS_ALL) leaves out: a device package carries no aggregator.
foreach(program edge-aggregator edgectl)
  if(TARGET ${program})
    install(TARGETS ${program} RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT aggregator)
  endif()
endforeach()

foreach(module ec_backend_vulkan ec_backend_opencl)
  if(TARGET ${module})
    install(TARGETS ${module} LIBRARY DESTINATION "${EC_INSTALL_MODULEDIR}" COMPONENT runtime)
  endif()
endforeach()

if(TARGET edge_agent)
  install(TARGETS edge_agent EXPORT EdgeComputeTargets
          LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT runtime NAMELINK_COMPONENT development
          INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
  install(FILES "${PROJECT_SOURCE_DIR}/agent/include/edge_agent.h" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
          COMPONENT development)
  install(EXPORT EdgeComputeTargets NAMESPACE EdgeCompute:: DESTINATION "${EC_INSTALL_CMAKEDIR}"
          COMPONENT development)

  configure_package_config_file("${CMAKE_CURRENT_LIST_DIR}/EdgeComputeConfig.cmake.in"
                                "${PROJECT_BINARY_DIR}/EdgeComputeConfig.cmake"
                                INSTALL_DESTINATION "${EC_INSTALL_CMAKEDIR}"
                                PATH_VARS EC_INSTALL_MODULEDIR)
  # 0.x: a minor release may change the C API, so only the same major.minor satisfies a request.
  write_basic_package_version_file("${PROJECT_BINARY_DIR}/EdgeComputeConfigVersion.cmake"
                                   COMPATIBILITY SameMinorVersion)
  install(FILES "${PROJECT_BINARY_DIR}/EdgeComputeConfig.cmake" "${PROJECT_BINARY_DIR}/EdgeComputeConfigVersion.cmake"
          DESTINATION "${EC_INSTALL_CMAKEDIR}" COMPONENT development)

  # Relocatable: paths relative to the .pc file, so `cmake --install --prefix` and packages need no rewrite.
  file(RELATIVE_PATH EC_PC_PREFIX_FROM_PCFILEDIR "/p/${EC_INSTALL_PKGCONFIGDIR}" "/p")
  configure_file("${CMAKE_CURRENT_LIST_DIR}/edge-agent.pc.in" "${PROJECT_BINARY_DIR}/edge-agent.pc" @ONLY)
  install(FILES "${PROJECT_BINARY_DIR}/edge-agent.pc" DESTINATION "${EC_INSTALL_PKGCONFIGDIR}"
          COMPONENT development)
endif()

install(FILES "${PROJECT_SOURCE_DIR}/examples/agent.toml" "${PROJECT_SOURCE_DIR}/examples/systemd/edge-agent.service"
        DESTINATION "${EC_INSTALL_EXAMPLEDIR}" COMPONENT examples)
# The documents the unit and the examples refer to (the unit's Documentation= names isolation.md).
install(FILES "${PROJECT_SOURCE_DIR}/docs/install.md" "${PROJECT_SOURCE_DIR}/docs/isolation.md"
              "${PROJECT_SOURCE_DIR}/docs/configuration.md" "${PROJECT_SOURCE_DIR}/docs/c-api.md"
        DESTINATION "${EC_INSTALL_DOCDIR}" COMPONENT docs)

include(ec_package)
