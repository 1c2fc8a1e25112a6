################################################################################
#
# tomlplusplus
#
################################################################################

# Header-only: staging gets the headers, pkg-config and CMake package files (find_package(tomlplusplus 3));
# nothing goes to the target. No .hash file: add one after the first download (README.md).
TOMLPLUSPLUS_VERSION = 3.4.0
TOMLPLUSPLUS_SITE = $(call github,marzer,tomlplusplus,v$(TOMLPLUSPLUS_VERSION))
TOMLPLUSPLUS_LICENSE = MIT
TOMLPLUSPLUS_LICENSE_FILES = LICENSE
TOMLPLUSPLUS_INSTALL_STAGING = YES
TOMLPLUSPLUS_INSTALL_TARGET = NO
TOMLPLUSPLUS_DEPENDENCIES = host-cmake
TOMLPLUSPLUS_CONF_OPTS = -Dbuild_tests=false -Dbuild_examples=false

$(eval $(meson-package))
