// vkcls info: the devices the loader lists, the one vkcls would pick and why,
// and what it can do; with --model DIR, what vkcls will run for that folder (architecture,
// tasks, pooling, activation, labels, dtype, device memory of the weights). --json for machines.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "runtime/context.h"
#include "shaders/shader_registry.h"
#include "tools/args.h"
#include "tools/commands.h"
#include "tools/io_options.h"
#include "vkcls/engine.h"

namespace vkcls::cli {

namespace {

nlohmann::json model_json(const ModelInfo& m) {
  return {{"model_dir", m.model_dir},
          {"model_type", m.model_type},
          {"architecture", m.architecture},
          {"tasks", m.tasks},
          {"default_task", m.default_task},
          {"pooling",
           {{"sequence", m.seq_pooling}, {"embed", m.embed_pooling}, {"token", m.tok_pooling}}},
          {"activation", m.activation},
          {"num_labels", m.num_labels},
          {"labels", m.labels},
          {"hidden_size", m.hidden_size},
          {"max_model_len", m.max_model_len},
          {"vocab_size", m.vocab_size},
          {"dtype", m.dtype},
          {"device", m.device},
          {"max_batch_tokens", m.max_batch_tokens},
          {"weight_bytes", m.weight_bytes},
          {"kv_cache",
           {{"pages", m.kv_pages},
            {"page_tokens", m.kv_page_size},
            {"bytes", m.kv_cache_bytes},
            {"dtype", m.kv_dtype},
            {"prefix_cache", m.prefix_cache}}}};
}

// Opens the model as every command would (same options) and says what will run.
int model_info(const Args& args, bool json) {
  EngineOptions e;
  e.model_dir = args.get("model");
  e.dtype = args.get("dtype");
  read_model_options(args, e);
  if (args.has("device")) e.device = int(args.get_int("device"));
  std::unique_ptr<Engine> engine = Engine::open(e);
  const ModelInfo& m = engine->info();
  if (json) {
    std::printf("%s\n", model_json(m).dump(2).c_str());
    return 0;
  }
  std::printf("model        %s\n", m.model_dir.c_str());
  std::printf("architecture %s (model_type %s)\n", m.architecture.c_str(), m.model_type.c_str());
  std::printf("tasks        %s (default %s)\n", fmt::format("{}", fmt::join(m.tasks, ", ")).c_str(),
              m.default_task.c_str());
  std::printf("pooling      sequence %s, embed %s, token %s\n", m.seq_pooling.c_str(),
              m.embed_pooling.c_str(), m.tok_pooling.c_str());
  std::printf("activation   %s\n", m.activation.c_str());
  std::printf("labels       %lld: %s\n", (long long)m.num_labels,
              fmt::format("{}", fmt::join(m.labels, ", ")).c_str());
  std::printf("sizes        hidden %lld, vocab %lld, max_model_len %lld, max_batch_tokens %lld\n",
              (long long)m.hidden_size, (long long)m.vocab_size, (long long)m.max_model_len,
              (long long)m.max_batch_tokens);
  std::printf("weights      %s on %s, %.1f MiB of device memory\n", m.dtype.c_str(),
              m.device.c_str(), double(m.weight_bytes) / (1024.0 * 1024.0));
  if (m.kv_pages > 0) {
    const EngineStats st = engine->stats();
    std::printf(
        "kv cache     %lld pages of %lld tokens (%lld tokens), %s, %.1f MiB; %lld pages in use; "
        "prefix cache %s, %llu of %llu prompt tokens hit\n",
        (long long)m.kv_pages, (long long)m.kv_page_size, (long long)(m.kv_pages * m.kv_page_size),
        m.kv_dtype.c_str(), double(m.kv_cache_bytes) / 1048576.0, (long long)st.kv_pages_in_use,
        m.prefix_cache ? "on" : "off", (unsigned long long)st.prefix_cache_hit_tokens,
        (unsigned long long)st.prefix_cache_query_tokens);
  } else {
    std::printf("kv cache     none (bidirectional attention: no paged KV memory)\n");
  }
  return 0;
}

}  // namespace

int cmd_info(int argc, char** argv) {
  Args args("info",
            "List Vulkan devices, the one vkcls picks (and why) and its features and limits.");
  args.flag("json", "print JSON instead of text");
  args.option("device", "", "device index to report as chosen (also VKCLS_DEVICE)");
  args.option("model", "",
              "a model folder or hub id: print what vkcls will run for it (architecture, tasks, "
              "pooling, activation, labels, dtype, weight memory) instead of the devices");
  args.option("dtype", "auto", "with --model: weights on the device: auto | f32 | f16");
  add_model_options(args);
  if (!args.parse(argc, argv)) return 2;
  if (args.help_requested()) {
    std::fputs(args.help().c_str(), stdout);
    return 0;
  }
  if (args.has("model")) {
    try {
      return model_info(args, args.has("json"));
    } catch (const Error& e) {
      std::fprintf(stderr, "vkcls info: %s\n", e.what());
      return 2;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "vkcls info: %s\n", e.what());
      return 2;
    }
  }
  int requested =
      args.has("device") ? int(args.get_int("device")) : int(env_int("VKCLS_DEVICE", -1));
  std::vector<DeviceInfo> devices = list_devices();
  std::string why;
  int chosen = choose_device(devices, requested, &why);

  if (args.has("json")) {
    nlohmann::json j;
    j["version"] = VKCLS_VERSION;
    j["devices"] = nlohmann::json::array();
    for (auto& d : devices) j["devices"].push_back(d.to_json());
    j["chosen"] = chosen;
    j["reason"] = why;
    j["shaders"] = shader_all().size();
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("vkcls %s, %zu embedded shaders\n%zu Vulkan device(s):\n", VKCLS_VERSION,
              shader_all().size(), devices.size());
  for (auto& d : devices) std::fputs(d.to_text().c_str(), stdout);
  std::printf("chosen: [%d] %s (%s)\n", chosen, devices[chosen].name.c_str(), why.c_str());
  return 0;
}

}  // namespace vkcls::cli
