add_executable(bench_models ${CMAKE_CURRENT_SOURCE_DIR}/bench_models.cpp)
target_link_libraries(bench_models PRIVATE vkcls_engine)
add_executable(bench_long ${CMAKE_CURRENT_SOURCE_DIR}/bench_long.cpp)
target_link_libraries(bench_long PRIVATE vkcls_engine)
