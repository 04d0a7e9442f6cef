/* A user's C program: classify one text with a model folder and print "label score".
 * Built by the tests against the build tree and against an installed tree (pkg-config).
 * usage: classify MODEL_DIR TEXT */
#include <stdio.h>
#include <vkcls/vkcls.h>

int main(int argc, char** argv) {
  vkcls_options options;
  vkcls_engine* engine = NULL;
  vkcls_classify_result* result = NULL;
  const char* texts[1];
  int rc = 1;
  if (argc != 3) {
    fprintf(stderr, "usage: %s MODEL_DIR TEXT\n", argv[0]);
    return 2;
  }
  vkcls_options_init(&options);
  options.model_dir = argv[1];
  if (vkcls_engine_open(&options, &engine) != VKCLS_OK) {
    fprintf(stderr, "open: %s\n", vkcls_last_error());
    return 1;
  }
  texts[0] = argv[2];
  if (vkcls_classify(engine, texts, 1, NULL, &result) != VKCLS_OK) {
    fprintf(stderr, "classify: %s\n", vkcls_last_error());
  } else if (result->items[0].status != VKCLS_OK) {
    fprintf(stderr, "classify: %s\n", result->items[0].error);
  } else {
    const vkcls_classify_item* item = &result->items[0];
    printf("%s %.4f (vkcls %s)\n", item->label, item->probs[item->label_index], vkcls_version());
    rc = 0;
  }
  vkcls_classify_result_free(result);
  vkcls_engine_close(engine);
  return rc;
}
