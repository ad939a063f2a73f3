# Compiler warnings and sanitizer flags for every target of the project.

set(NF_WARNINGS -Wall -Wextra -Wno-unused-parameter)
if(NF_WERROR)
  list(APPEND NF_WARNINGS -Werror)
endif()
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  # Every guarded field carries ABSL_GUARDED_BY; clang checks them.
  list(APPEND NF_WARNINGS -Wthread-safety)
endif()
add_compile_options("$<$<COMPILE_LANGUAGE:CXX>:${NF_WARNINGS}>")

set(NF_SAN_FLAGS "")
if(NF_SANITIZER STREQUAL "address")
  set(NF_SAN_FLAGS -fsanitize=address -fno-omit-frame-pointer)
elseif(NF_SANITIZER STREQUAL "undefined")
  set(NF_SAN_FLAGS -fsanitize=undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
elseif(NF_SANITIZER STREQUAL "thread")
  set(NF_SAN_FLAGS -fsanitize=thread)
elseif(NF_SANITIZER STREQUAL "fuzzer")
  set(NF_SAN_FLAGS -fsanitize=fuzzer-no-link,address -fno-omit-frame-pointer)
elseif(NF_SANITIZER STREQUAL "coverage")
  set(NF_SAN_FLAGS -fprofile-instr-generate -fcoverage-mapping)
elseif(NOT NF_SANITIZER STREQUAL "")
  message(FATAL_ERROR "NF_SANITIZER must be one of: address undefined thread fuzzer coverage (got '${NF_SANITIZER}')")
endif()
if(NF_SAN_FLAGS)
  add_compile_options(${NF_SAN_FLAGS})
  add_link_options(${NF_SAN_FLAGS})
endif()

# NF_LIB_FUZZING_ENGINE: what a fuzz target links instead of replay_main.cc when
# set, OSS-Fuzz's $LIB_FUZZING_ENGINE: "-fsanitize=fuzzer" (libFuzzer) or the path
# of a driver archive (AFL++'s libAFLDriver.a, ...). The sanitizer and coverage
# flags then come from CFLAGS/CXXFLAGS, with NF_SANITIZER left empty.
set(NF_LIB_FUZZING_ENGINE "" CACHE STRING
  "Fuzzing engine the fuzz targets link (OSS-Fuzz's LIB_FUZZING_ENGINE); empty: see nf_fuzz_target")
# NF_FUZZ_TARGETS_REPLAY: true when the fuzz targets are replayers (replay_main.cc),
# so that running one on a directory replays it instead of fuzzing.
if(NF_LIB_FUZZING_ENGINE OR NF_SANITIZER STREQUAL "fuzzer")
  set(NF_FUZZ_TARGETS_REPLAY FALSE)
else()
  set(NF_FUZZ_TARGETS_REPLAY TRUE)
endif()
# NF_FUZZ_SANCOV: true when the code is built with libFuzzer's SanitizerCoverage
# (the 'fuzz' preset, or OSS-Fuzz's -fsanitize=fuzzer-no-link in CXXFLAGS), where
# -fno-sanitize-coverage=... can take a file out of the feedback.
if(NF_SANITIZER STREQUAL "fuzzer" OR CMAKE_CXX_FLAGS MATCHES "-fsanitize=([a-z,-]*,)?fuzzer-no-link")
  set(NF_FUZZ_SANCOV TRUE)
else()
  set(NF_FUZZ_SANCOV FALSE)
endif()

# nf_fuzz_target(NAME SOURCES...): a fuzz target. It links NF_LIB_FUZZING_ENGINE
# when that is set, else libFuzzer in the 'fuzz' preset; everywhere else it links
# fuzzers/tools/replay_main.cc and replays files.
function(nf_fuzz_target name)
  add_executable(${name} ${ARGN})
  if(NF_LIB_FUZZING_ENGINE)
    separate_arguments(engine UNIX_COMMAND "${NF_LIB_FUZZING_ENGINE}")
    target_link_libraries(${name} PRIVATE ${engine})
  elseif(NF_SANITIZER STREQUAL "fuzzer")
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  else()
    target_sources(${name} PRIVATE ${PROJECT_SOURCE_DIR}/fuzzers/tools/replay_main.cc)
  endif()
endfunction()
