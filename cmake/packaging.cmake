# What `cmake --install` puts beside the two programs, and the Debian package made of it
# (`cpack` in the build directory writes jobssh_<version>_<arch>.deb).
#
# The package installs under /usr whatever CMAKE_INSTALL_PREFIX the build was configured
# with, and the sshd snippet names jobssh-keys under the prefix it is installed with.

set(JOBSSH_SSHD_CONFIG_DIR "/etc/ssh/sshd_config.d" CACHE PATH
  "Where the sshd_config snippet jobssh.conf is installed (sshd reads it from /etc/ssh/sshd_config.d)")

# Man pages are installed gzipped (gzip -9n: no name or time stamp inside), as Debian's
# policy asks; man reads them either way.
set(jobssh_man_pages)
foreach(page jobssh-keys.8 jobssh-shell.8)
  add_custom_command(OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/man/${page}.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/man
    COMMAND gzip -9nc ${PROJECT_SOURCE_DIR}/packaging/man/${page} > ${CMAKE_CURRENT_BINARY_DIR}/man/${page}.gz
    DEPENDS ${PROJECT_SOURCE_DIR}/packaging/man/${page}
    COMMENT "Compressing the man page ${page}"
    VERBATIM)
  list(APPEND jobssh_man_pages ${CMAKE_CURRENT_BINARY_DIR}/man/${page}.gz)
endforeach()
add_custom_target(jobssh-man-pages ALL DEPENDS ${jobssh_man_pages})
install(FILES ${jobssh_man_pages} DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)

# An example, not a live file: /etc/sr.ht/config.ini is read first when it exists, so a
# shipped /etc/jobssh/config.ini would be silently ignored next to builds.sr.ht, and alone
# it would hold placeholder addresses. docs/operators.md says where to copy it.
install(FILES ${PROJECT_SOURCE_DIR}/packaging/config.ini
  DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)

# operators.md links design.md, the contracts, beside it.
install(FILES ${PROJECT_SOURCE_DIR}/docs/operators.md ${PROJECT_SOURCE_DIR}/docs/design.md
  DESTINATION ${CMAKE_INSTALL_DOCDIR})
if(EXISTS ${PROJECT_SOURCE_DIR}/README.md)
  install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
endif()

# The snippet is written at install time, when the prefix is known: CPack installs with
# CMAKE_INSTALL_PREFIX=/usr and DESTDIR set to its staging directory.
if(IS_ABSOLUTE "${CMAKE_INSTALL_BINDIR}")
  set(jobssh_keys_dir "${CMAKE_INSTALL_BINDIR}")
else()
  set(jobssh_keys_dir "\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}")
endif()
install(CODE "
  set(JOBSSH_KEYS \"${jobssh_keys_dir}/jobssh-keys\")
  set(snippet \"\$ENV{DESTDIR}${JOBSSH_SSHD_CONFIG_DIR}/jobssh.conf\")
  message(STATUS \"Installing: \${snippet}\")
  configure_file(\"${PROJECT_SOURCE_DIR}/packaging/sshd/jobssh.conf.in\" \"\${snippet}\" @ONLY)
  list(APPEND CMAKE_INSTALL_MANIFEST_FILES \"${JOBSSH_SSHD_CONFIG_DIR}/jobssh.conf\")
")

# dpkg keeps an operator's edits of the snippet across upgrades, and removes it on purge.
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/debian/conffiles "${JOBSSH_SSHD_CONFIG_DIR}/jobssh.conf\n")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME jobssh)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "jobssh maintainers <root@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "SSH access to CI build jobs, for builds.sr.ht")
set(CPACK_PACKAGE_DESCRIPTION
  "jobssh lets the owner of a CI build job follow its logs live (ssh builds@host tail N)
or get a shell on its build VM (ssh -t builds@host connect N) with nothing but an SSH
client. It is a drop-in replacement of builds.sr.ht's buildsrht-keys and buildsrht-shell:
jobssh-keys is sshd's AuthorizedKeysCommand, jobssh-shell the forced command it sets.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# libc comes from dpkg-shlibdeps (the C++ runtime and Boost's compiled parts are linked into
# the programs, source/CMakeLists.txt); the programs run sshd's client and sshd runs them.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "openssh-server, openssh-client, passwd")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${PROJECT_SOURCE_DIR}/packaging/debian/postinst
  ${PROJECT_SOURCE_DIR}/packaging/debian/postrm
  ${CMAKE_CURRENT_BINARY_DIR}/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_SOURCE_GENERATOR TGZ)
set(CPACK_SOURCE_IGNORE_FILES "/\\\\.git/" "/build[^/]*/")

include(CPack)
