# Fuzzers for the text parsers a request or a model folder reaches: tokenizer.json + text
# (vkcls_tokenizer, instrumented in a fuzz build as vkcls_templates is), config.json and
# --hf-overrides (models/config.cpp), and the server's JSON protocol layer
# (server/protocol.cpp). Each runs on its committed seed corpus, see tools/fuzz.sh.
#
#   CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DVKCLS_FUZZ=ON
#   cmake --build build-fuzz --target fuzz_tokenizer fuzz_config fuzz_protocol
set(vkcls_fuzz_parsers_flags -fsanitize=address,undefined -fno-sanitize-recover=undefined
                             -fno-omit-frame-pointer -g)
target_compile_options(vkcls_tokenizer PRIVATE ${vkcls_fuzz_parsers_flags} -fsanitize=fuzzer-no-link)

add_library(vkcls_fuzz_parsers STATIC ${CMAKE_SOURCE_DIR}/models/config.cpp
                                      ${CMAKE_SOURCE_DIR}/server/protocol.cpp
                                      ${CMAKE_SOURCE_DIR}/server/embed_encoding.cpp
                                      ${CMAKE_SOURCE_DIR}/poolers/types.cpp)
target_compile_options(vkcls_fuzz_parsers PRIVATE ${vkcls_fuzz_parsers_flags}
                                                  -fsanitize=fuzzer-no-link)
target_include_directories(vkcls_fuzz_parsers PUBLIC ${CMAKE_SOURCE_DIR} ${CMAKE_SOURCE_DIR}/include)
target_link_libraries(vkcls_fuzz_parsers PUBLIC nlohmann_json::nlohmann_json fmt::fmt)

foreach(fuzzer fuzz_tokenizer fuzz_config fuzz_protocol)
  add_executable(${fuzzer} ${CMAKE_CURRENT_SOURCE_DIR}/${fuzzer}.cpp)
  target_compile_options(${fuzzer} PRIVATE ${vkcls_fuzz_parsers_flags} -fsanitize=fuzzer)
  target_link_options(${fuzzer} PRIVATE ${vkcls_fuzz_parsers_flags} -fsanitize=fuzzer)
endforeach()
target_link_libraries(fuzz_tokenizer PRIVATE vkcls_tokenizer)
target_link_libraries(fuzz_config PRIVATE vkcls_fuzz_parsers)
target_link_libraries(fuzz_protocol PRIVATE vkcls_fuzz_parsers)
