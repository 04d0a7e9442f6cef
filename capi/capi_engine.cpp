// The C API (include/vkcls/vkcls.h), first half: statuses and the last error, devices,
// opening and describing an engine, cancel tokens, the tokenizer. capi_tasks.cpp has the calls.
#include <fmt/format.h>

#include <new>
#include <stdexcept>

#include "capi/capi_internal.h"
#include "runtime/context.h"
#include "runtime/vk_check.h"
#include "tokenizer/unicode.h"

namespace vkcls::capi {

namespace {
thread_local std::string last_error, last_param;
}  // namespace

vkcls_status status_of(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::none:
      return VKCLS_OK;
    case ErrorKind::invalid_input:
      return VKCLS_ERROR_INVALID_INPUT;
    case ErrorKind::too_long:
      return VKCLS_ERROR_TOO_LONG;
    case ErrorKind::unsupported:
      return VKCLS_ERROR_UNSUPPORTED;
    case ErrorKind::not_found:
      return VKCLS_ERROR_NOT_FOUND;
    case ErrorKind::model:
      return VKCLS_ERROR_MODEL;
    case ErrorKind::overloaded:
      return VKCLS_ERROR_OVERLOADED;
    case ErrorKind::cancelled:
      return VKCLS_ERROR_CANCELLED;
    case ErrorKind::device_lost:
      return VKCLS_ERROR_DEVICE_LOST;
    case ErrorKind::out_of_memory:
      return VKCLS_ERROR_OUT_OF_MEMORY;
    case ErrorKind::internal:
      return VKCLS_ERROR_INTERNAL;
  }
  return VKCLS_ERROR_INTERNAL;
}

void clear_error() {
  last_error.clear();
  last_param.clear();
}

vkcls_status fail(vkcls_status status, const std::string& message, const std::string& param) {
  last_error = message;
  last_param = param;
  return status;
}

vkcls_status status_from_exception() noexcept {
  try {
    throw;
  } catch (const ArgumentError& e) {
    return fail(VKCLS_ERROR_INVALID_ARGUMENT, e.message, e.param);
  } catch (const Error& e) {
    return fail(status_of(e.kind()), e.what(), e.param());
  } catch (const VulkanError& e) {
    vkcls_status s =
        e.device_lost() || e.timed_out() ? VKCLS_ERROR_DEVICE_LOST
        : e.result() == VK_ERROR_OUT_OF_DEVICE_MEMORY || e.result() == VK_ERROR_OUT_OF_HOST_MEMORY
            ? VKCLS_ERROR_OUT_OF_MEMORY
            : VKCLS_ERROR_INTERNAL;
    return fail(s, e.what());
  } catch (const std::bad_alloc&) {
    return fail(VKCLS_ERROR_OUT_OF_MEMORY, "out of host memory");
  } catch (const std::invalid_argument& e) {  // the runtime's checks of options (device index)
    return fail(VKCLS_ERROR_INVALID_ARGUMENT, e.what());
  } catch (const std::exception& e) {
    return fail(VKCLS_ERROR_INTERNAL, e.what());
  } catch (...) {
    return fail(VKCLS_ERROR_INTERNAL, "unknown exception");
  }
}

}  // namespace vkcls::capi

using namespace vkcls;
using namespace vkcls::capi;

extern "C" {

const char* vkcls_version(void) {
  return VKCLS_PROJECT_VERSION;
}

const char* vkcls_status_name(vkcls_status status) {
  switch (status) {
    case VKCLS_OK:
      return "ok";
    case VKCLS_ERROR_INVALID_ARGUMENT:
      return "invalid_argument";
    case VKCLS_ERROR_INVALID_INPUT:
      return "invalid_input";
    case VKCLS_ERROR_TOO_LONG:
      return "too_long";
    case VKCLS_ERROR_UNSUPPORTED:
      return "unsupported";
    case VKCLS_ERROR_NOT_FOUND:
      return "not_found";
    case VKCLS_ERROR_MODEL:
      return "model";
    case VKCLS_ERROR_OVERLOADED:
      return "overloaded";
    case VKCLS_ERROR_CANCELLED:
      return "cancelled";
    case VKCLS_ERROR_DEVICE_LOST:
      return "device_lost";
    case VKCLS_ERROR_OUT_OF_MEMORY:
      return "out_of_memory";
    case VKCLS_ERROR_INTERNAL:
      return "internal";
  }
  return "unknown";
}

const char* vkcls_last_error(void) {
  return last_error.c_str();
}
const char* vkcls_last_error_param(void) {
  return last_param.c_str();
}

// ---- devices

namespace {
struct DeviceList : vkcls_device_list {
  std::vector<DeviceInfo> infos;
  std::vector<std::string> type_names, api_versions;
  std::vector<vkcls_device> rows;
  std::string why;
};
}  // namespace

vkcls_status vkcls_devices(vkcls_device_list** out) {
  return guarded([&] {
    require(out, "vkcls_devices: out is NULL", "out");
    *out = nullptr;
    auto list = std::make_unique<DeviceList>();
    list->infos = list_devices();
    list->chosen = -1;
    list->why = "no Vulkan device found";
    if (!list->infos.empty())
      list->chosen = choose_device(list->infos, int(env_int("VKCLS_DEVICE", -1)), &list->why);
    for (const DeviceInfo& d : list->infos) {
      list->type_names.push_back(d.type_name());
      list->api_versions.push_back(d.api_version_string());
    }
    for (size_t i = 0; i < list->infos.size(); ++i) {
      const DeviceInfo& d = list->infos[i];
      list->rows.push_back({d.index, d.name.c_str(), vkcls_device_type(d.type),
                            list->type_names[i].c_str(), d.vendor_id, d.device_id,
                            d.driver_name.c_str(), list->api_versions[i].c_str(),
                            d.device_local_bytes, d.storage_16bit ? 1 : 0});
    }
    list->count = list->rows.size();
    list->devices = list->rows.data();
    list->reason = list->why.c_str();
    *out = list.release();
    return VKCLS_OK;
  });
}

void vkcls_device_list_free(vkcls_device_list* list) {
  delete static_cast<DeviceList*>(list);
}

// ---- engines

void vkcls_options_init(vkcls_options* o) {
  if (!o) return;
  *o = vkcls_options{};
  o->struct_size = sizeof(vkcls_options);
  o->device = -1;
  o->max_input_bytes = EngineOptions{}.max_input_bytes;
}

vkcls_status vkcls_engine_open(const vkcls_options* options, vkcls_engine** out) {
  return guarded([&] {
    require(out, "vkcls_engine_open: out is NULL", "out");
    *out = nullptr;
    require(options, "vkcls_engine_open: options is NULL (fill them with vkcls_options_init)",
            "options");
    vkcls_options defaults;
    vkcls_options_init(&defaults);
    vkcls_options o = read_sized(options, defaults, "vkcls_options");
    require(o.model_dir && *o.model_dir, "vkcls_options.model_dir is NULL or empty", "model_dir");

    EngineOptions e;
    e.model_dir = o.model_dir;
    if (o.revision) e.revision = o.revision;
    e.download = o.download != 0;
    e.device = o.device;
    if (o.dtype) e.dtype = o.dtype;
    e.max_batch_tokens = o.max_batch_tokens;
    if (o.pooler_config_json) e.pooler = parse_pooler_config(o.pooler_config_json);
    if (o.hf_overrides_json) e.hf_overrides = o.hf_overrides_json;
    e.max_queued_requests = o.max_queued_requests;
    e.validation = o.validation != 0;
    e.max_input_bytes = o.max_input_bytes;
    e.kv_cache_memory = o.kv_cache_memory;
    e.prefix_cache = o.no_prefix_cache == 0;

    auto h = std::make_unique<vkcls_engine>();
    h->engine = Engine::open(e);
    const ModelInfo& m = h->engine->info();
    for (const std::string& l : m.labels) h->labels.push_back(l.c_str());
    for (const std::string& t : m.tasks) h->tasks.push_back(t.c_str());
    h->info = {m.model_dir.c_str(),   m.model_type.c_str(),  m.architecture.c_str(),
               h->labels.size(),      h->labels.data(),      m.has_labels ? 1 : 0,
               h->tasks.size(),       h->tasks.data(),       m.default_task.c_str(),
               m.activation.c_str(),  m.seq_pooling.c_str(), m.embed_pooling.c_str(),
               m.tok_pooling.c_str(), m.dtype.c_str(),       m.device.c_str(),
               m.hidden_size,         m.max_model_len,       m.vocab_size,
               m.max_batch_tokens,    m.weight_bytes};
    *out = h.release();
    return VKCLS_OK;
  });
}

void vkcls_engine_close(vkcls_engine* engine) {
  try {
    delete engine;
  } catch (...) {
  }
}

vkcls_status vkcls_engine_info(const vkcls_engine* engine, const vkcls_model_info** out) {
  return guarded([&] {
    require(out, "vkcls_engine_info: out is NULL", "out");
    *out = nullptr;
    require(engine, "vkcls_engine_info: engine is NULL", "engine");
    *out = &engine->info;
    return VKCLS_OK;
  });
}

// ---- cancel tokens

vkcls_status vkcls_cancel_token_new(vkcls_cancel_token** out) {
  return guarded([&] {
    require(out, "vkcls_cancel_token_new: out is NULL", "out");
    *out = new vkcls_cancel_token;
    return VKCLS_OK;
  });
}

vkcls_status vkcls_cancel(vkcls_cancel_token* token) {
  return guarded([&] {
    require(token, "vkcls_cancel: token is NULL", "token");
    std::vector<std::shared_ptr<Ticket>> active;
    {
      std::lock_guard lock(token->m);
      token->cancelled = true;
      active = token->active;
    }
    for (auto& t : active) t->cancel();
    return VKCLS_OK;
  });
}

void vkcls_cancel_token_free(vkcls_cancel_token* token) {
  delete token;
}

// ---- the tokenizer

namespace {
struct Tokens : vkcls_tokens {
  TokenizeResult r;
  std::vector<const char*> token_ptrs;
  std::vector<int64_t> start_v, end_v;
};
}  // namespace

vkcls_status vkcls_tokenize(vkcls_engine* engine, const char* text, int add_special_tokens,
                            vkcls_tokens** out) {
  return guarded([&] {
    require(out, "vkcls_tokenize: out is NULL", "out");
    *out = nullptr;
    require(engine, "vkcls_tokenize: engine is NULL", "engine");
    require(text, "vkcls_tokenize: text is NULL", "text");
    std::string_view s(text);
    if (size_t bad = tok::utf8_find_invalid(s); bad != std::string_view::npos)
      return fail(VKCLS_ERROR_INVALID_INPUT, fmt::format("text: invalid UTF-8 at byte {}", bad),
                  "text");
    auto t = std::make_unique<Tokens>();
    t->r = engine->engine->tokenize(std::string(s), add_special_tokens != 0);
    for (const std::string& tok : t->r.tokens) t->token_ptrs.push_back(tok.c_str());
    for (auto [b, e] : t->r.offsets) t->start_v.push_back(b), t->end_v.push_back(e);
    t->count = t->r.ids.size();
    t->ids = t->r.ids.data();
    t->tokens = t->token_ptrs.data();
    t->starts = t->start_v.data();
    t->ends = t->end_v.data();
    *out = t.release();
    return VKCLS_OK;
  });
}

void vkcls_tokens_free(vkcls_tokens* tokens) {
  delete static_cast<Tokens*>(tokens);
}

}  // extern "C"
