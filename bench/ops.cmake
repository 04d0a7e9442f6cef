add_executable(bench_ops ${CMAKE_CURRENT_SOURCE_DIR}/bench_ops.cpp)
target_link_libraries(bench_ops PRIVATE vkcls_runtime)
