# Packaging checks (included from tests/CMakeLists.txt):
#   packaging_find_package_consumer  install into a temporary prefix, then build and run
#                                    tests/find_package_consumer against it, and the installed CLI
#   docs_fresh                       docs/*.md and completions/modelkit.bash equal what the
#                                    binary generates (else: run scripts/gen_docs.sh)
if(NOT MODELKIT_BUILD_TOOLS)
  return()
endif()

if(MODELKIT_INSTALL)
  add_test(NAME packaging_find_package_consumer
    COMMAND ${CMAKE_COMMAND}
      -DBUILD_DIR=${PROJECT_BINARY_DIR}
      -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/find_package_consumer
      -DCONSUMER_SOURCE=${CMAKE_CURRENT_SOURCE_DIR}/find_package_consumer
      -DGENERATOR=${CMAKE_GENERATOR}
      -DCXX_COMPILER=${CMAKE_CXX_COMPILER}
      "-DCXX_FLAGS=${CMAKE_CXX_FLAGS}"
      "-DEXE_LINKER_FLAGS=${CMAKE_EXE_LINKER_FLAGS}"
      -DORT_VERSION=${OnnxRuntime_LIBRARY_VERSION}
      -DIMAGE_DIR=${PROJECT_SOURCE_DIR}/.deps/images/skimage
      -DIMAGE_MODEL=${PROJECT_SOURCE_DIR}/.deps/models/cnn-tiny
      -P ${CMAKE_CURRENT_SOURCE_DIR}/find_package_consumer/run_consumer.cmake)
  set_tests_properties(packaging_find_package_consumer PROPERTIES TIMEOUT 600 LABELS packaging)
endif()

add_test(NAME docs_fresh
  COMMAND bash ${PROJECT_SOURCE_DIR}/scripts/gen_docs.sh --check $<TARGET_FILE:modelkit_cli>)
set_tests_properties(docs_fresh PROPERTIES LABELS packaging)
