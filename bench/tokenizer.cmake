# Tokenizer throughput (plain main, no Google Benchmark); included by bench/CMakeLists.txt.
if(TARGET vkcls_tokenizer)
  add_executable(bench_tokenizer ${CMAKE_CURRENT_SOURCE_DIR}/bench_tokenizer.cpp)
  target_link_libraries(bench_tokenizer PRIVATE vkcls_tokenizer Threads::Threads)
endif()
