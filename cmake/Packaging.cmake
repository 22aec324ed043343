# pkg-config file and the Debian package (cpack -G DEB): the library with its
# versioned soname, the headers, the CMake and pkg-config files, the `dpool`
# command and `dpool-executor`. The package depends on the runtime libraries
# libdpool.so links and on cereal's headers, which the public headers include.
# Relocatable: the prefix is found from where the .pc file is.
file(RELATIVE_PATH DPOOL_PC_TO_PREFIX ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" DPOOL_PC_TO_PREFIX "${DPOOL_PC_TO_PREFIX}")
configure_file(${CMAKE_CURRENT_LIST_DIR}/dpool.pc.in ${CMAKE_BINARY_DIR}/dpool.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/dpool.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME dpool)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "dpool maintainers <maintainers@dpool.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Python's multiprocessing for C++20, across machines")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "libzmq5 (>= 4.3), libsqlite3-0, libsodium23, libspdlog1.10, libfmt9, libcpp-httplib0.11, libcereal-dev, libstdc++6")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
include(CPack)
