# `cmake --install` of the four libraries a consumer builds on, their headers
# and the CMake package (tornado_cppConfig.cmake, its version file and the
# exported targets, namespace tornado::). The walkthrough library and
# tornado-walk are the classroom front end, built on these; they stay in the
# build tree.
include(CMakePackageConfigHelpers)

set(tornado_installed_libraries ioloop iostream httpserver web)
foreach(layer ${tornado_installed_libraries})
    # tornado::web and so on, inside this build as well as from the package,
    # so that code written against either links the same way.
    add_library(tornado::${layer} ALIAS tornado_${layer})
    set_target_properties(tornado_${layer} PROPERTIES EXPORT_NAME ${layer})
    install(TARGETS tornado_${layer} EXPORT tornado_cppTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
    # Every header of the layer: new ones are picked up without a list here.
    install(DIRECTORY ${PROJECT_SOURCE_DIR}/${layer}/include/
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")
endforeach()

set(tornado_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/tornado_cpp)
install(EXPORT tornado_cppTargets
    NAMESPACE tornado::
    DESTINATION ${tornado_cmake_dir})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/tornado_cppConfig.cmake.in
    ${PROJECT_BINARY_DIR}/tornado_cppConfig.cmake
    INSTALL_DESTINATION ${tornado_cmake_dir})
# 0.x: a minor version may change the API, so only the same minor matches.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/tornado_cppConfigVersion.cmake
    COMPATIBILITY SameMinorVersion)
install(FILES
    ${PROJECT_BINARY_DIR}/tornado_cppConfig.cmake
    ${PROJECT_BINARY_DIR}/tornado_cppConfigVersion.cmake
    DESTINATION ${tornado_cmake_dir})
