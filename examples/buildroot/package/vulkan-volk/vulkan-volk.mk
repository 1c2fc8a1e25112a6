################################################################################
#
# vulkan-volk
#
################################################################################

# The revision of the Vulkan SDK 1.4.313 release (as in openembedded-core's vulkan-volk recipe). volk guards each
# entry point by the Vulkan header's version and extension macros; match it to your vulkan-headers if needed.
# No .hash file: add one after the first download (README.md).
VULKAN_VOLK_VERSION = 43c29e655cb8117fd9cfb65ad9cefe2d40965102
VULKAN_VOLK_SITE = $(call github,zeux,volk,$(VULKAN_VOLK_VERSION))
VULKAN_VOLK_LICENSE = MIT
VULKAN_VOLK_LICENSE_FILES = LICENSE.md
VULKAN_VOLK_INSTALL_STAGING = YES
VULKAN_VOLK_INSTALL_TARGET = NO
VULKAN_VOLK_DEPENDENCIES = vulkan-headers
VULKAN_VOLK_CONF_OPTS = -DVOLK_INSTALL=ON

$(eval $(cmake-package))
