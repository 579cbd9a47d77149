# install-system.cmake - the systemd units, /etc/ratusz/ratuszd.yaml and
# the example configurations, at install time (cmake/install.cmake runs it
# with RZ_SOURCE_DIR, RZ_BINDIR and RZ_DOCDIR set).
#
# Where they go depends on the prefix of this installation, which cpack sets
# to /usr whatever the build was configured with:
#
#   prefix     configuration        units
#   /usr       /etc/ratusz          /lib/systemd/system     (the .deb)
#   other P    P/etc/ratusz         P/lib/systemd/system    (/usr/local: both
#                                                            searched by systemd)
#
# The units from deploy/ are rewritten on the way: ExecStart runs the
# installed programs (deploy/ says /usr/local/bin), the configuration is
# read from where it was installed, and ratuszd runs as the system user
# ratusz (which the package creates) instead of a DynamicUser: its store,
# /var/lib/ratusz, then has a fixed owner that backups and the package's
# maintainer scripts can rely on.
#
# An existing ratuszd.yaml is never overwritten: the new default is next to
# the examples and the message says so.

set(prefix "${CMAKE_INSTALL_PREFIX}")
string(REGEX REPLACE "/+$" "" prefix "${prefix}")
if(prefix STREQUAL "" OR prefix STREQUAL "/usr")
  set(root "")
else()
  set(root "${prefix}")
endif()
set(sysconf "${root}/etc/ratusz")
set(unitdir "${root}/lib/systemd/system")
if(prefix STREQUAL "")
  set(bindir "/${RZ_BINDIR}")
else()
  set(bindir "${prefix}/${RZ_BINDIR}")
endif()
set(docdir "${prefix}/${RZ_DOCDIR}")
set(dest "$ENV{DESTDIR}")
set(deploy "${RZ_SOURCE_DIR}/deploy")

function(s_put path content mode)
  get_filename_component(dir "${dest}${path}" DIRECTORY)
  file(MAKE_DIRECTORY "${dir}")
  file(WRITE "${dest}${path}.rz-new" "${content}")
  file(CHMOD "${dest}${path}.rz-new" PERMISSIONS ${mode})
  file(RENAME "${dest}${path}.rz-new" "${dest}${path}")
  message(STATUS "Installing: ${dest}${path}")
endfunction()

# --- units ---------------------------------------------------------------------
file(GLOB units "${deploy}/*.service")
foreach(u ${units})
  get_filename_component(name "${u}" NAME)
  file(READ "${u}" text)
  string(REPLACE "/usr/local/bin/" "${bindir}/" text "${text}")
  if(NOT sysconf STREQUAL "/etc/ratusz")
    string(REPLACE "/etc/ratusz/" "${sysconf}/" text "${text}")
  endif()
  set(head "# Installed from deploy/${name}: programs in ${bindir}, \
configuration in ${sysconf}.\n")
  if(name STREQUAL "ratuszd.service")
    string(REGEX REPLACE "\nDynamicUser=yes\n"
      "\n# The system user of the package (adduser --system ratusz).\nUser=ratusz\nGroup=ratusz\n"
      text "${text}")
    string(APPEND head "# It runs as the system user ratusz (the package \
creates it; otherwise:\n#   adduser --system --group --home /var/lib/ratusz \
ratusz), not as a DynamicUser.\n")
  endif()
  s_put("${unitdir}/${name}" "${head}${text}"
    "OWNER_READ;OWNER_WRITE;GROUP_READ;WORLD_READ")
endforeach()

# --- configuration: ratuszd.yaml (a conffile in the package) ---------------------
file(READ "${deploy}/ratuszd.yaml" yaml)
if(EXISTS "${dest}${sysconf}/ratuszd.yaml")
  file(READ "${dest}${sysconf}/ratuszd.yaml" old)
  if(NOT old STREQUAL yaml)
    message(STATUS "Kept: ${dest}${sysconf}/ratuszd.yaml (the new default is "
      "${dest}${docdir}/examples/ratuszd.yaml)")
  endif()
else()
  s_put("${sysconf}/ratuszd.yaml" "${yaml}"
    "OWNER_READ;OWNER_WRITE;GROUP_READ;WORLD_READ")
endif()

# --- examples ------------------------------------------------------------------------
set(ex "${docdir}/examples")
set(r "OWNER_READ;OWNER_WRITE;GROUP_READ;WORLD_READ")
s_put("${ex}/ratuszd.yaml" "${yaml}" "${r}")
file(READ "${deploy}/principals.example.yaml" t)
s_put("${ex}/principals.example.yaml" "${t}" "${r}")
file(GLOB adapters "${deploy}/adapters/*.yaml")
foreach(f ${adapters})
  get_filename_component(name "${f}" NAME)
  file(READ "${f}" t)
  s_put("${ex}/adapters/${name}" "${t}" "${r}")
endforeach()
file(GLOB kafka "${deploy}/scale-out/kafka-*.yaml")
foreach(f ${kafka})
  get_filename_component(name "${f}" NAME)
  file(READ "${f}" t)
  s_put("${ex}/kafka/${name}" "${t}" "${r}")
endforeach()
