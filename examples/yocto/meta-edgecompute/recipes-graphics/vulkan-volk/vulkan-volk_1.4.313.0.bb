SUMMARY = "volk: a meta-loader for Vulkan"
DESCRIPTION = "Loads Vulkan entry points at run time without linking the Vulkan loader. edge-agent's Vulkan \
module compiles volk.c itself, so this recipe installs the source and header (VOLK_INSTALL)."
HOMEPAGE = "https://github.com/zeux/volk"
SECTION = "libs"
LICENSE = "MIT"
LIC_FILES_CHKSUM = "file://LICENSE.md;md5=fb3d6e8051a71edca1e54bc38d35e5af"

# A backport for kirkstone and scarthgap, whose openembedded-core has no vulkan-volk (it arrived with the 1.4.313
# Vulkan SDK recipes). Same source and revision as that recipe; on a branch that has it, delete this file.
# volk guards every entry point by the Vulkan header's version and extension macros, so it is meant to build
# against the branch's older vulkan-headers: not built here (README.md).
SRC_URI = "git://github.com/zeux/volk.git;branch=master;protocol=https"
SRCREV = "43c29e655cb8117fd9cfb65ad9cefe2d40965102"
S = "${WORKDIR}/git"

DEPENDS = "vulkan-headers"
REQUIRED_DISTRO_FEATURES = "vulkan"

inherit cmake features_check

EXTRA_OECMAKE = "-DVOLK_INSTALL=ON"

# The exported CMake targets name the build's sysroot: make them relocatable.
do_install:append() {
    sed -i -e 's,${STAGING_DIR_TARGET},,g' ${D}${libdir}/cmake/volk/volkTargets.cmake
}
