# Fuzzers for the weight loaders: the restricted unpickler + PyTorch checkpoint reader, and the
# safetensors header parser. The loader sources are compiled again here with coverage and
# sanitizer instrumentation (the normal vkcls_models_io stays uninstrumented).
#
#   CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DVKCLS_FUZZ=ON
#   cmake --build build-fuzz --target fuzz_torch_pickle fuzz_safetensors
#   build-fuzz/fuzz/fuzz_torch_pickle -dict=fuzz/torch_pickle.dict fuzz/corpus/fuzz_torch_pickle
#   build-fuzz/fuzz/fuzz_safetensors fuzz/corpus/fuzz_safetensors
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "VKCLS_FUZZ needs clang++ (libFuzzer): configure with CXX=clang++")
endif()

set(vkcls_fuzz_flags -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
                     -fno-omit-frame-pointer -g)
add_library(vkcls_fuzz_loaders STATIC
  ${CMAKE_SOURCE_DIR}/models/safetensors.cpp
  ${CMAKE_SOURCE_DIR}/models/torch_zip.cpp
  ${CMAKE_SOURCE_DIR}/models/torch_pickle.cpp
  ${CMAKE_SOURCE_DIR}/models/torch_pickle_tables.cpp
  ${CMAKE_SOURCE_DIR}/models/torch_checkpoint.cpp
)
target_compile_options(vkcls_fuzz_loaders PRIVATE ${vkcls_fuzz_flags})
target_link_libraries(vkcls_fuzz_loaders PUBLIC nlohmann_json::nlohmann_json fmt::fmt)

foreach(fuzzer fuzz_torch_pickle fuzz_safetensors)
  add_executable(${fuzzer} ${CMAKE_CURRENT_SOURCE_DIR}/${fuzzer}.cpp)
  target_compile_options(${fuzzer} PRIVATE ${vkcls_fuzz_flags})
  target_link_options(${fuzzer} PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(${fuzzer} PRIVATE vkcls_fuzz_loaders)
endforeach()
