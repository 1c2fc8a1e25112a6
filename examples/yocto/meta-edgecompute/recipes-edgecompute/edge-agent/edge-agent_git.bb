SUMMARY = "edgecompute agent: signed micro-tasks on the device's GPUs and CPU"
DESCRIPTION = "edge-agent pulls signed tasks from a regional aggregator over MQTT v5, runs them in sandboxed \
worker processes on Vulkan, OpenCL or the CPU (chosen per kernel by self-test and measurement), and returns \
signed results. Also installs libedge_agent.so, the C API for host applications."
HOMEPAGE = "https://example.invalid/edgecompute"
SECTION = "net"
# The project carries no licence file yet: CLOSED needs no LIC_FILES_CHKSUM. Replace both when it does.
LICENSE = "CLOSED"

# The source: this repository. Point EDGECOMPUTE_GIT_URI and SRCREV at your mirror in local.conf or a bbappend,
# or build a local checkout with externalsrc (README.md).
EDGECOMPUTE_GIT_URI ??= "git://example.invalid/edgecompute.git;protocol=https;branch=main"
SRC_URI = "${EDGECOMPUTE_GIT_URI}"
PV = "0.1.0+git${SRCPV}"
S = "${WORKDIR}/git"

inherit cmake pkgconfig systemd useradd

# Build-host programs: flatc generates the wire readers, glslc (shaderc) compiles the kernels' GLSL to SPIR-V.
# Both are needed whatever PACKAGECONFIG says: the CPU build embeds the kernels' SPIR-V too.
DEPENDS = "flatbuffers-native shaderc-native \
           flatbuffers mbedtls openssl paho-mqtt-c paho-mqtt-cpp cli11 tomlplusplus"

# vulkan: the Vulkan module, loaded through volk (no libvulkan in NEEDED), so the loader is only recommended;
#         SPIRV-Tools validates custom SPIR-V inside the module.
# opencl: the OpenCL module, which links the ICD loader (its shlib dependency is found automatically); any
#         provider of virtual/opencl-icd (opencl-icd-loader, ocl-icd) will do.
PACKAGECONFIG ??= "${@bb.utils.filter('DISTRO_FEATURES', 'vulkan', d)} opencl"
PACKAGECONFIG[vulkan] = "-DEC_WITH_VULKAN=ON,-DEC_WITH_VULKAN=OFF,vulkan-headers vulkan-volk spirv-tools,,vulkan-loader"
PACKAGECONFIG[opencl] = "-DEC_WITH_OPENCL=ON,-DEC_WITH_OPENCL=OFF,opencl-headers virtual/opencl-icd"

# A device build: the agent and its C API only. No tests, benchmarks, fuzzers, JNI bridge or aggregator, and never
# the crash-test failpoints or isolation test hooks (they react to reserved task ids).
EXTRA_OECMAKE = " \
    -DCMAKE_BUILD_TYPE=Release \
    -DEC_BUILD_TESTS=OFF \
    -DEC_BUILD_BENCH=OFF \
    -DEC_BUILD_FUZZERS=OFF \
    -DEC_BUILD_AGGREGATOR=OFF \
    -DEC_BUILD_JNI=OFF \
    -DEC_TEST_HOOKS=OFF \
    -DEC_FAILPOINTS=OFF \
    -DEC_WERROR=OFF \
    -DEC_SHA256_IMPLEMENTATION=openssl \
    -DEC_FLATC=${STAGING_BINDIR_NATIVE}/flatc \
    -DEC_GLSLC=${STAGING_BINDIR_NATIVE}/glslc \
"

# cmake --install puts the example agent.toml and unit under ${docdir}; the system copies are installed here.
do_install:append() {
    install -D -m 0644 ${S}/examples/systemd/edge-agent.service ${D}${systemd_system_unitdir}/edge-agent.service
    install -D -m 0644 ${S}/examples/agent.toml ${D}${sysconfdir}/edge-agent/agent.toml
}

# The backend modules live in their own folder under libdir (the agent finds them relative to its binary).
FILES:${PN} += "${libdir}/edgecompute/modules/*.so"
CONFFILES:${PN} = "${sysconfdir}/edge-agent/agent.toml"

# The service user: no login, no home of its own (systemd's StateDirectory= makes /var/lib/edge-agent), in video
# and render to open the GPU nodes. The unit names render in SupplementaryGroups=, and systemd refuses to start a
# unit whose group does not exist, so the group is created when the image lacks it.
USERADD_PACKAGES = "${PN}"
GROUPADD_PARAM:${PN} = "--system render"
USERADD_PARAM:${PN} = "--system --home-dir /var/lib/edge-agent --no-create-home \
                       --shell ${base_sbindir}/nologin --user-group --groups video,render edge-agent"

# Not started until the image provides a real agent.toml (aggregator keys, broker): `edge-agent run` refuses the
# example file, and a service that fails every 5 s helps nobody. A fleet's bbappend sets "enable".
SYSTEMD_SERVICE:${PN} = "edge-agent.service"
SYSTEMD_AUTO_ENABLE:${PN} ?= "disable"
