# FindOnnxRuntime: ONNX Runtime's C/C++ API as the imported target OnnxRuntime::OnnxRuntime.
#
# Looked for, in order:
#   1. ONNXRUNTIME_ROOT (CMake variable or environment): <root>/include[/onnxruntime] + <root>/lib
#   2. a system ONNX Runtime's CMake package (onnxruntime::onnxruntime)
#   3. .deps/onnxruntime/, which scripts/setup.d/20-onnxruntime.sh fills from npm
# Sets OnnxRuntime_FOUND, OnnxRuntime_VERSION (the library's), OnnxRuntime_HEADER_API_VERSION.
# Fails when the headers are newer than the library (a newer API table than the library has
# would crash at run time), printing both versions.

include(FindPackageHandleStandardArgs)

if(NOT ONNXRUNTIME_ROOT AND DEFINED ENV{ONNXRUNTIME_ROOT})
  set(ONNXRUNTIME_ROOT "$ENV{ONNXRUNTIME_ROOT}")
endif()

if(ONNXRUNTIME_ROOT)
  find_path(OnnxRuntime_ROOT_INCLUDE_DIR onnxruntime_cxx_api.h PATHS ${ONNXRUNTIME_ROOT}/include/onnxruntime
            ${ONNXRUNTIME_ROOT}/include NO_DEFAULT_PATH)
  find_library(OnnxRuntime_ROOT_LIBRARY onnxruntime PATHS ${ONNXRUNTIME_ROOT}/lib ${ONNXRUNTIME_ROOT}/lib64
               NO_DEFAULT_PATH)
  set(_ort_include "${OnnxRuntime_ROOT_INCLUDE_DIR}")
  set(_ort_library "${OnnxRuntime_ROOT_LIBRARY}")
  set(_ort_source "ONNXRUNTIME_ROOT=${ONNXRUNTIME_ROOT}")
else()
  find_package(onnxruntime CONFIG QUIET)
  if(TARGET onnxruntime::onnxruntime)
    set(_ort_library "")
    get_target_property(_ort_include onnxruntime::onnxruntime INTERFACE_INCLUDE_DIRECTORIES)
    list(GET _ort_include 0 _ort_include)
    if(EXISTS "${_ort_include}/onnxruntime/onnxruntime_cxx_api.h")
      set(_ort_include "${_ort_include}/onnxruntime")
    endif()
    foreach(_cfg IMPORTED_LOCATION_RELEASE IMPORTED_LOCATION_RELWITHDEBINFO IMPORTED_LOCATION_NOCONFIG IMPORTED_LOCATION)
      if(NOT _ort_library)
        get_target_property(_ort_library onnxruntime::onnxruntime ${_cfg})
        if(NOT _ort_library)
          set(_ort_library "")
        endif()
      endif()
    endforeach()
    set(_ort_source "system package onnxruntime ${onnxruntime_VERSION}")
  else()
    set(_ort_deps "${PROJECT_SOURCE_DIR}/.deps/onnxruntime")
    find_path(OnnxRuntime_DEPS_INCLUDE_DIR onnxruntime_cxx_api.h PATHS ${_ort_deps}/include NO_DEFAULT_PATH)
    find_library(OnnxRuntime_DEPS_LIBRARY NAMES onnxruntime PATHS ${_ort_deps}/lib NO_DEFAULT_PATH)
    set(_ort_include "${OnnxRuntime_DEPS_INCLUDE_DIR}")
    set(_ort_library "${OnnxRuntime_DEPS_LIBRARY}")
    set(_ort_source "${_ort_deps} (scripts/setup.d/20-onnxruntime.sh)")
  endif()
endif()

if(_ort_include AND EXISTS "${_ort_include}/onnxruntime_c_api.h")
  file(STRINGS "${_ort_include}/onnxruntime_c_api.h" _ort_api_line REGEX "^#define ORT_API_VERSION [0-9]+")
  string(REGEX REPLACE ".* ([0-9]+)$" "\\1" OnnxRuntime_HEADER_API_VERSION "${_ort_api_line}")
endif()

# The library's own version, by asking it (works for any build of the library); asked again
# when the library file changes.
if(_ort_library AND EXISTS "${_ort_library}")
  file(TIMESTAMP "${_ort_library}" _ort_stamp)
  set(_ort_key "${_ort_library}@${_ort_stamp}")
endif()
if(_ort_include AND _ort_library AND NOT _ort_key STREQUAL "${OnnxRuntime_VERSION_KEY}")
  set(_ort_probe_dir "${CMAKE_BINARY_DIR}/CMakeFiles/onnxruntime_version_probe")
  file(WRITE "${_ort_probe_dir}/probe.cpp"
    "#include <cstdio>\n#include <onnxruntime_c_api.h>\n"
    "int main() { std::printf(\"%s\", OrtGetApiBase()->GetVersionString()); return 0; }\n")
  get_filename_component(_ort_libdir "${_ort_library}" DIRECTORY)
  try_run(_ort_run_result _ort_compile_result "${_ort_probe_dir}/build" "${_ort_probe_dir}/probe.cpp"
    CMAKE_FLAGS "-DINCLUDE_DIRECTORIES=${_ort_include}"
    LINK_LIBRARIES "${_ort_library}"
    LINK_OPTIONS "-Wl,-rpath,${_ort_libdir}"
    CXX_STANDARD 17
    COMPILE_OUTPUT_VARIABLE _ort_compile_output
    RUN_OUTPUT_VARIABLE _ort_version_output)
  if(_ort_compile_result AND _ort_run_result EQUAL 0 AND _ort_version_output MATCHES "^[0-9]+\\.[0-9]+\\.[0-9]+")
    set(OnnxRuntime_LIBRARY_VERSION "${_ort_version_output}" CACHE INTERNAL "ONNX Runtime library version")
    set(OnnxRuntime_VERSION_KEY "${_ort_key}" CACHE INTERNAL "")
  else()
    message(FATAL_ERROR "ONNX Runtime at ${_ort_library} could not be loaded to read its version "
                        "(compile ok: ${_ort_compile_result}, run: ${_ort_run_result}):\n${_ort_compile_output}")
  endif()
endif()

set(OnnxRuntime_VERSION "${OnnxRuntime_LIBRARY_VERSION}")
find_package_handle_standard_args(OnnxRuntime
  REQUIRED_VARS _ort_library _ort_include OnnxRuntime_HEADER_API_VERSION
  VERSION_VAR OnnxRuntime_VERSION
  REASON_FAILURE_MESSAGE "run scripts/setup.sh (it unpacks ONNX Runtime from npm into .deps/onnxruntime), or set ONNXRUNTIME_ROOT")

if(OnnxRuntime_FOUND)
  string(REGEX MATCH "^([0-9]+)\\.([0-9]+)" _ort_mm "${OnnxRuntime_VERSION}")
  set(_ort_lib_api "${CMAKE_MATCH_2}")  # ORT's API version is its minor version
  if(OnnxRuntime_HEADER_API_VERSION GREATER _ort_lib_api)
    message(FATAL_ERROR
      "ONNX Runtime headers are newer than the library: headers ${_ort_include} are version "
      "1.${OnnxRuntime_HEADER_API_VERSION} (ORT_API_VERSION ${OnnxRuntime_HEADER_API_VERSION}), library "
      "${_ort_library} is version ${OnnxRuntime_VERSION}. Headers must be <= the library; use "
      "matching packages (scripts/setup.d/20-onnxruntime.sh) or set ONNXRUNTIME_ROOT.")
  endif()
  if(NOT TARGET OnnxRuntime::OnnxRuntime)
    add_library(OnnxRuntime::OnnxRuntime SHARED IMPORTED)
    set_target_properties(OnnxRuntime::OnnxRuntime PROPERTIES
      IMPORTED_LOCATION "${_ort_library}"
      INTERFACE_INCLUDE_DIRECTORIES "${_ort_include}")
  endif()
  if(NOT OnnxRuntime_FIND_QUIETLY AND NOT _ort_reported STREQUAL "${_ort_library}")
    message(STATUS "ONNX Runtime ${OnnxRuntime_VERSION} (headers 1.${OnnxRuntime_HEADER_API_VERSION}) from ${_ort_source}")
    set(_ort_reported "${_ort_library}" CACHE INTERNAL "")
  endif()
endif()
