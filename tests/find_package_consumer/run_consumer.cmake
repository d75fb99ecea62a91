# ctest 'packaging_find_package_consumer' (tests/packaging.cmake): installs the build tree into a
# fresh prefix, then checks the installed package as a user gets it:
#   - a CMake project using find_package(modelkit) configures, builds and runs (this folder);
#   - the installed CLI runs (ONNX Runtime found through its install RPATH) and reports versions;
#   - completion, docs and FindOnnxRuntime.cmake are installed.
# Inputs (-D): BUILD_DIR, WORK_DIR, CONSUMER_SOURCE, GENERATOR, CXX_COMPILER, CXX_FLAGS and
# EXE_LINKER_FLAGS (the build's, so instrumented libraries link), ORT_VERSION,
# IMAGE_DIR (optional: an image to decode if it holds one), IMAGE_MODEL (optional: a checkpoint
# folder of an image model, built with the installed CLI to check it finds its embedded default
# photographs, run from another folder than the build's).
cmake_minimum_required(VERSION 3.22)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " shown "${ARGN}")
    message(FATAL_ERROR "'${shown}' failed (${rc}):\n${out}\n${err}")
  endif()
  set(run_output "${out}" PARENT_SCOPE)
endfunction()

function(expect text what)
  string(FIND "${run_output}" "${text}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${what}: expected '${text}' in:\n${run_output}")
  endif()
endfunction()

set(prefix "${WORK_DIR}/prefix")
set(consumer_build "${WORK_DIR}/build")
file(REMOVE_RECURSE "${WORK_DIR}")
# The package must stand on its own: no ONNX Runtime location from the environment.
unset(ENV{ONNXRUNTIME_ROOT})

run(${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}")
foreach(f lib/cmake/modelkit/modelkitConfig.cmake lib/cmake/modelkit/modelkitConfigVersion.cmake
          lib/cmake/modelkit/FindOnnxRuntime.cmake include/modelkit/model.hpp bin/modelkit
          share/bash-completion/completions/modelkit share/doc/modelkit/cli.md share/doc/modelkit/tasks.md)
  if(NOT EXISTS "${prefix}/${f}")
    message(FATAL_ERROR "not installed: ${prefix}/${f}")
  endif()
endforeach()

run(${CMAKE_COMMAND} -S "${CONSUMER_SOURCE}" -B "${consumer_build}" -G "${GENERATOR}"
    -DCMAKE_CXX_COMPILER=${CXX_COMPILER} "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}"
    "-DCMAKE_EXE_LINKER_FLAGS=${EXE_LINKER_FLAGS}" -DCMAKE_BUILD_TYPE=Release
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON)
run(${CMAKE_COMMAND} --build "${consumer_build}")

set(image "")
if(IMAGE_DIR)
  file(GLOB images "${IMAGE_DIR}/*.png")
  list(SORT images)
  if(images)
    list(GET images 0 image)
  endif()
endif()
# task-resolution.md section 4: sam -> mask-generation, sentinel-default, SamModel; mask-generation
# has no dataset kind in build-pipeline.md, so it calibrates on random inputs.
run("${consumer_build}/modelkit_consumer" sam ${image})
expect("task mask-generation\n" "consumer")
expect("source sentinel-default\n" "consumer")
expect("class SamModel\n" "consumer")
expect("calibration random\n" "consumer")
expect("ids 1 2\n" "consumer tokenizer")
expect("onnxruntime ${ORT_VERSION}\n" "consumer")
if(image)
  expect("image " "consumer image")
endif()

run("${prefix}/bin/modelkit" --version)
expect("onnxruntime ${ORT_VERSION} (library in use)" "installed modelkit --version")
run("${prefix}/bin/modelkit" inspect --model-type bert --format json)
expect("\"source\": \"model-type-default\"" "installed modelkit inspect")
if(IMAGE_MODEL)
  # No data folder exists beside the installed binary: the default photographs are embedded.
  unset(ENV{MODELKIT_CALIBRATION_IMAGES})
  set(elsewhere "${WORK_DIR}/elsewhere")
  file(MAKE_DIRECTORY "${elsewhere}")
  execute_process(COMMAND "${prefix}/bin/modelkit" build -m "${IMAGE_MODEL}" -o "${elsewhere}/out" --samples 8 --quiet
                  WORKING_DIRECTORY "${elsewhere}" RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "installed modelkit build of ${IMAGE_MODEL} failed (${rc}): ${err}")
  endif()
  file(READ "${elsewhere}/out/build_manifest.json" run_output)
  expect("\"data_source\": \"embedded default photographs (12 images" "installed modelkit build: default images")
endif()
message(STATUS "installed package at ${prefix}: consumer and CLI ok")
