add_executable(bench_models ${CMAKE_CURRENT_SOURCE_DIR}/bench_models.cpp)
target_link_libraries(bench_models PRIVATE vkcls_engine)
