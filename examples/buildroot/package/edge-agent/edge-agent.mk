################################################################################
#
# edge-agent
#
################################################################################

# Built from the checkout this BR2_EXTERNAL tree lives in (examples/buildroot -> the repository root). A product
# tree would fetch a release instead: EDGE_AGENT_SITE = <git URL>, EDGE_AGENT_SITE_METHOD = git, plus a .hash.
EDGE_AGENT_VERSION = 0.1.0
EDGE_AGENT_SITE = $(BR2_EXTERNAL_EDGECOMPUTE_PATH)/../..
EDGE_AGENT_SITE_METHOD = local
# The project carries no licence file yet: set EDGE_AGENT_LICENSE and EDGE_AGENT_LICENSE_FILES when it does.
EDGE_AGENT_INSTALL_STAGING = YES

EDGE_AGENT_DEPENDENCIES = host-flatbuffers flatbuffers mbedtls openssl paho-mqtt-c paho-mqtt-cpp cli11 tomlplusplus

# glslc compiles the kernels' GLSL to SPIR-V on the build host; Buildroot has no shaderc package, so the host's
# is used (Debian/Ubuntu: apt-get install glslc).
EDGE_AGENT_GLSLC ?= $(shell command -v glslc 2>/dev/null)

# A device build: the agent and its C API only; never the crash-test failpoints or the isolation test hooks.
EDGE_AGENT_CONF_OPTS = \
	-DEC_BUILD_TESTS=OFF \
	-DEC_BUILD_BENCH=OFF \
	-DEC_BUILD_FUZZERS=OFF \
	-DEC_BUILD_AGGREGATOR=OFF \
	-DEC_BUILD_JNI=OFF \
	-DEC_TEST_HOOKS=OFF \
	-DEC_FAILPOINTS=OFF \
	-DEC_WERROR=OFF \
	-DEC_SHA256_IMPLEMENTATION=openssl \
	-DEC_FLATC=$(HOST_DIR)/bin/flatc \
	-DEC_GLSLC=$(EDGE_AGENT_GLSLC)

ifeq ($(BR2_PACKAGE_EDGE_AGENT_VULKAN),y)
EDGE_AGENT_DEPENDENCIES += vulkan-headers vulkan-loader vulkan-volk spirv-tools
EDGE_AGENT_CONF_OPTS += -DEC_WITH_VULKAN=ON
else
EDGE_AGENT_CONF_OPTS += -DEC_WITH_VULKAN=OFF
endif

ifeq ($(BR2_PACKAGE_EDGE_AGENT_OPENCL),y)
EDGE_AGENT_DEPENDENCIES += libopencl opencl-headers
EDGE_AGENT_CONF_OPTS += -DEC_WITH_OPENCL=ON
else
EDGE_AGENT_CONF_OPTS += -DEC_WITH_OPENCL=OFF
endif

define EDGE_AGENT_CHECK_HOST_GLSLC
	@test -x "$(EDGE_AGENT_GLSLC)" || { \
		echo "edge-agent: glslc not found on the build host: install shaderc's glslc" \
		     "(Debian/Ubuntu: apt-get install glslc) or set EDGE_AGENT_GLSLC=/path/to/glslc"; \
		exit 1; }
endef
EDGE_AGENT_PRE_CONFIGURE_HOOKS += EDGE_AGENT_CHECK_HOST_GLSLC

# The example configuration, as a starting point: a rootfs overlay replaces it with the fleet's own.
define EDGE_AGENT_INSTALL_CONFIG
	$(INSTALL) -D -m 0644 $(@D)/examples/agent.toml $(TARGET_DIR)/etc/edge-agent/agent.toml
endef
EDGE_AGENT_POST_INSTALL_TARGET_HOOKS += EDGE_AGENT_INSTALL_CONFIG

# The service user: no login, in video and render for the GPU nodes (the unit's SupplementaryGroups=).
define EDGE_AGENT_USERS
	edge-agent -1 edge-agent -1 * /var/lib/edge-agent - video,render edgecompute agent
endef

# The hardened unit, and a preset that enables it only when asked (the example config cannot run).
define EDGE_AGENT_INSTALL_INIT_SYSTEMD
	$(INSTALL) -D -m 0644 $(@D)/examples/systemd/edge-agent.service \
		$(TARGET_DIR)/usr/lib/systemd/system/edge-agent.service
	mkdir -p $(TARGET_DIR)/usr/lib/systemd/system-preset
	echo "$(if $(BR2_PACKAGE_EDGE_AGENT_ENABLE_SERVICE),enable,disable) edge-agent.service" \
		> $(TARGET_DIR)/usr/lib/systemd/system-preset/50-edge-agent.preset
endef

$(eval $(cmake-package))
