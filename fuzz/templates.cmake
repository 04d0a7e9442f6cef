# Fuzzer for the template renderer (templates/): a template, a NUL byte, then a JSON context.
# vkcls_templates itself is instrumented in a fuzz build (its own build folder).
#
#   CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DVKCLS_FUZZ=ON
#   cmake --build build-fuzz --target fuzz_templates
#   mkdir -p /tmp/fuzz-work && cp fuzz/corpus/fuzz_templates/* /tmp/fuzz-work/
#   build-fuzz/fuzz/fuzz_templates -max_total_time=600 -rss_limit_mb=2048 /tmp/fuzz-work
# The seed corpus comes from the test fixtures: python3 fuzz/make_templates_corpus.py
set(vkcls_fuzz_templates_flags -fsanitize=address,undefined -fno-sanitize-recover=undefined
                               -fno-omit-frame-pointer -g)
target_compile_options(vkcls_templates PRIVATE ${vkcls_fuzz_templates_flags}
                                               -fsanitize=fuzzer-no-link)
add_executable(fuzz_templates ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_templates.cpp)
target_compile_options(fuzz_templates PRIVATE ${vkcls_fuzz_templates_flags} -fsanitize=fuzzer)
target_link_options(fuzz_templates PRIVATE ${vkcls_fuzz_templates_flags} -fsanitize=fuzzer)
target_link_libraries(fuzz_templates PRIVATE vkcls_templates)
