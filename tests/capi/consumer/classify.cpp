// A user's C++ program over the C API: the engine and the results held by unique_ptrs.
// Built by the install test with find_package(vkcls). usage: classify_cpp MODEL_DIR TEXT
#include <vkcls/vkcls.h>

#include <cstdio>
#include <memory>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s MODEL_DIR TEXT\n", argv[0]);
    return 2;
  }
  vkcls_options options;
  vkcls_options_init(&options);
  options.model_dir = argv[1];
  vkcls_engine* raw = nullptr;
  if (vkcls_engine_open(&options, &raw) != VKCLS_OK) {
    std::fprintf(stderr, "open: %s\n", vkcls_last_error());
    return 1;
  }
  std::unique_ptr<vkcls_engine, decltype(&vkcls_engine_close)> engine(raw, vkcls_engine_close);
  const char* texts[] = {argv[2]};
  vkcls_classify_result* got = nullptr;
  if (vkcls_classify(engine.get(), texts, 1, nullptr, &got) != VKCLS_OK) {
    std::fprintf(stderr, "classify: %s\n", vkcls_last_error());
    return 1;
  }
  std::unique_ptr<vkcls_classify_result, decltype(&vkcls_classify_result_free)> result(
      got, vkcls_classify_result_free);
  const vkcls_classify_item& item = result->items[0];
  if (item.status != VKCLS_OK) {
    std::fprintf(stderr, "classify: %s\n", item.error);
    return 1;
  }
  std::printf("%s %.4f (vkcls %s)\n", item.label, item.probs[item.label_index], vkcls_version());
  return 0;
}
