// The C API (include/vkcls/vkcls.h), second half: the calls. Each one checks its C arguments,
// builds the Engine's inputs and parameters, submits one request (progress and cancellation
// wired to the request's Ticket), and copies the results into one caller-owned block: a C
// result struct as the base of a C++ object that owns the strings and arrays it points to.
#include <algorithm>
#include <numeric>

#include "capi/capi_internal.h"

using namespace vkcls;
using namespace vkcls::capi;

namespace {

RequestParams request_params(const vkcls_params& p) {
  RequestParams r;
  if (p.truncate_prompt_tokens != 0) r.truncate_prompt_tokens = p.truncate_prompt_tokens;
  if (p.truncation_side) r.truncation_side = p.truncation_side;
  r.add_special_tokens = p.add_special_tokens != 0;
  if (p.use_activation >= 0) r.use_activation = p.use_activation != 0;
  r.priority = p.priority;
  r.top_k = p.top_k;
  if (p.normalize >= 0) r.normalize = p.normalize != 0;
  if (p.dimensions != 0) r.dimensions = p.dimensions;
  switch (p.aggregation) {  // an int, so any value the caller sends is defined to read
    case VKCLS_AGGREGATION_OFF:
      break;
    case VKCLS_AGGREGATION_NONE:
      r.aggregation = Aggregation::none;
      break;
    case VKCLS_AGGREGATION_SIMPLE:
      r.aggregation = Aggregation::simple;
      break;
    case VKCLS_AGGREGATION_FIRST:
      r.aggregation = Aggregation::first;
      break;
    case VKCLS_AGGREGATION_AVERAGE:
      r.aggregation = Aggregation::average;
      break;
    case VKCLS_AGGREGATION_MAX:
      r.aggregation = Aggregation::max;
      break;
    default:
      throw ArgumentError{fmt::format("vkcls_params.aggregation is {}; expected 0..5 "
                                      "(VKCLS_AGGREGATION_OFF..MAX)",
                                      p.aggregation),
                          "aggregation"};
  }
  if (p.ignore_labels) {
    r.ignore_labels.clear();
    for (size_t i = 0; i < p.num_ignore_labels; ++i) {
      if (!p.ignore_labels[i])
        throw ArgumentError{fmt::format("vkcls_params.ignore_labels[{}] is NULL", i),
                            "ignore_labels"};
      r.ignore_labels.push_back(p.ignore_labels[i]);
    }
  }
  r.stride = p.stride;
  return r;
}

vkcls_params params_or_defaults(const vkcls_params* given) {
  vkcls_params defaults;
  vkcls_params_init(&defaults);
  return given ? read_sized(given, defaults, "vkcls_params") : defaults;
}

std::vector<TextInput> text_inputs(const char* const* texts, const char* const* pairs, size_t count,
                                   const char* name) {
  if (!texts && count > 0) throw ArgumentError{fmt::format("{} is NULL", name), name};
  std::vector<TextInput> in(count);
  for (size_t i = 0; i < count; ++i) {
    if (!texts[i]) throw ArgumentError{fmt::format("{}[{}] is NULL", name, i), name};
    in[i].text = texts[i];
    if (pairs && pairs[i]) in[i].text_pair = pairs[i];
  }
  return in;
}

std::vector<TextInput> id_inputs(const int32_t* const* ids, const size_t* lengths, size_t count) {
  require((ids && lengths) || count == 0, "ids or lengths is NULL", "ids");
  std::vector<TextInput> in(count);
  for (size_t i = 0; i < count; ++i) {
    if (!ids[i] && lengths[i] > 0)
      throw ArgumentError{fmt::format("ids[{}] is NULL with lengths[{}] = {}", i, i, lengths[i]),
                          "ids"};
    in[i].token_ids = std::vector<int32_t>(ids[i], ids[i] + lengths[i]);
  }
  return in;
}

// One request through the engine, with the call's progress callback and cancel token. A token
// cancelled before the call runs nothing: every input fails as cancelled.
Results run(vkcls_engine* engine, Task task, std::vector<TextInput> inputs, const vkcls_params& p) {
  require(engine, "engine is NULL", "engine");
  Request r;
  r.task = task;
  r.params = request_params(p);
  const size_t n = inputs.size();
  r.inputs = std::move(inputs);
  if (p.progress) {
    vkcls_progress_fn fn = p.progress;
    void* user = p.progress_user_data;
    r.on_progress = [fn, user](size_t done, size_t total) { fn(done, total, user); };
  }
  vkcls_cancel_token* token = p.cancel;
  if (token) {
    std::lock_guard lock(token->m);
    if (token->cancelled) {
      Results out;
      out.task = task;
      auto fill = [n](auto& v) {
        v.resize(n);
        for (auto& x : v) x.error = "cancelled: the request was cancelled";
        for (auto& x : v) x.error_kind = ErrorKind::cancelled;
      };
      fill(out.classify), fill(out.token_classify), fill(out.score), fill(out.embed);
      return out;
    }
  }
  std::shared_ptr<Ticket> ticket = engine->engine->submit(std::move(r));
  if (!token) return ticket->take();
  bool cancel_now = false;
  {
    std::lock_guard lock(token->m);
    token->active.push_back(ticket);
    cancel_now = token->cancelled;  // cancelled while this call was being submitted
  }
  if (cancel_now) ticket->cancel();
  Results out = ticket->take();
  std::lock_guard lock(token->m);
  token->active.erase(std::find(token->active.begin(), token->active.end(), ticket));
  return out;
}

// The call's status: OK, or CANCELLED when some input did not run because of the token.
template <class R>
vkcls_status call_status(const std::vector<R>& results) {
  size_t cancelled = 0;
  for (const R& r : results) cancelled += r.error_kind == ErrorKind::cancelled;
  if (cancelled == 0) return VKCLS_OK;
  return fail(VKCLS_ERROR_CANCELLED,
              fmt::format("cancelled: {} of {} inputs did not run", cancelled, results.size()));
}

// ---- result blocks: the C struct as the base, the C++ values its pointers point into

struct ClassifyBlock : vkcls_classify_result {
  std::vector<ClassifyResult> src;
  std::vector<vkcls_classify_item> rows;
  std::vector<std::vector<vkcls_label_score>> top_k;
};

struct TokenBlock : vkcls_token_result {
  std::vector<TokenClassifyResult> src;
  std::vector<vkcls_token_item> rows;
  std::vector<std::vector<const char*>> labels;
  std::vector<std::vector<vkcls_token>> tokens;
  std::vector<std::vector<vkcls_entity>> entities;
};

struct ScoreBlock : vkcls_score_result {
  std::vector<ScoreResult> src;
  std::vector<vkcls_score_item> rows;
};

struct EmbedBlock : vkcls_embed_result {
  std::vector<EmbedResult> src;
  std::vector<vkcls_embed_item> rows;
};

ClassifyBlock* classify_block(std::vector<ClassifyResult> src) {
  auto b = std::make_unique<ClassifyBlock>();
  b->src = std::move(src);
  b->top_k.resize(b->src.size());
  for (size_t i = 0; i < b->src.size(); ++i) {
    const ClassifyResult& r = b->src[i];
    for (const LabelScore& l : r.top_k) b->top_k[i].push_back({l.label.c_str(), l.score, l.index});
    b->rows.push_back({status_of(r.error_kind), r.error.c_str(), r.label_index, r.label.c_str(),
                       r.has_label ? 1 : 0, r.probs.size(), r.probs.data(), b->top_k[i].size(),
                       b->top_k[i].data(), r.prompt_tokens});
  }
  b->count = b->rows.size();
  b->items = b->rows.data();
  return b.release();
}

TokenBlock* token_block(std::vector<TokenClassifyResult> src) {
  auto b = std::make_unique<TokenBlock>();
  b->src = std::move(src);
  const size_t n = b->src.size();
  b->labels.resize(n), b->tokens.resize(n), b->entities.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const TokenClassifyResult& r = b->src[i];
    for (const std::string& l : r.labels) b->labels[i].push_back(l.c_str());
    for (const TokenScore& t : r.tokens)
      b->tokens[i].push_back(
          {t.token_id, t.token.c_str(), t.start, t.end, t.special ? 1 : 0, t.probs.data()});
    for (const EntitySpan& e : r.entities)
      b->entities[i].push_back(
          {e.entity.c_str(), e.score, e.index, e.word.c_str(), e.start, e.end});
    b->rows.push_back({status_of(r.error_kind), r.error.c_str(), b->labels[i].size(),
                       b->labels[i].data(), b->tokens[i].size(), b->tokens[i].data(),
                       b->entities[i].size(), b->entities[i].data(), r.prompt_tokens});
  }
  b->count = b->rows.size();
  b->items = b->rows.data();
  return b.release();
}

// order: which result each row shows (rerank sorts; score keeps input order)
ScoreBlock* score_block(std::vector<ScoreResult> src, const std::vector<size_t>& order) {
  auto b = std::make_unique<ScoreBlock>();
  b->src = std::move(src);
  for (size_t i : order) {
    const ScoreResult& r = b->src[i];
    b->rows.push_back({status_of(r.error_kind), r.error.c_str(), i, r.score, r.prompt_tokens});
  }
  b->count = b->rows.size();
  b->items = b->rows.data();
  return b.release();
}

EmbedBlock* embed_block(std::vector<EmbedResult> src) {
  auto b = std::make_unique<EmbedBlock>();
  b->src = std::move(src);
  for (const EmbedResult& r : b->src)
    b->rows.push_back({status_of(r.error_kind), r.error.c_str(), r.embedding.size(),
                       r.embedding.data(), r.prompt_tokens});
  b->count = b->rows.size();
  b->items = b->rows.data();
  return b.release();
}

std::vector<size_t> input_order(size_t n) {
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t(0));
  return order;
}

// The shared shape of every call: check out, run, wrap, status.
template <class Block, class Out, class Make>
vkcls_status call(Out** out, Make make) {
  return guarded([&] {
    require(out, "out is NULL", "out");
    *out = nullptr;
    vkcls_status status = VKCLS_OK;
    Block* b = make(&status);
    *out = b;
    return status;
  });
}

}  // namespace

extern "C" {

void vkcls_params_init(vkcls_params* p) {
  if (!p) return;
  *p = vkcls_params{};
  p->struct_size = sizeof(vkcls_params);
  p->add_special_tokens = 1;
  p->use_activation = -1;
  p->normalize = -1;
}

vkcls_status vkcls_classify_pairs(vkcls_engine* engine, const char* const* texts,
                                  const char* const* text_pairs, size_t count,
                                  const vkcls_params* params, vkcls_classify_result** out) {
  return call<ClassifyBlock>(out, [&](vkcls_status* status) {
    auto in = text_inputs(texts, text_pairs, count, "texts");
    Results r = run(engine, Task::classify, std::move(in), params_or_defaults(params));
    *status = call_status(r.classify);
    return classify_block(std::move(r.classify));
  });
}

vkcls_status vkcls_classify(vkcls_engine* engine, const char* const* texts, size_t count,
                            const vkcls_params* params, vkcls_classify_result** out) {
  return vkcls_classify_pairs(engine, texts, nullptr, count, params, out);
}

vkcls_status vkcls_classify_ids(vkcls_engine* engine, const int32_t* const* ids,
                                const size_t* lengths, size_t count, const vkcls_params* params,
                                vkcls_classify_result** out) {
  return call<ClassifyBlock>(out, [&](vkcls_status* status) {
    auto in = id_inputs(ids, lengths, count);
    Results r = run(engine, Task::classify, std::move(in), params_or_defaults(params));
    *status = call_status(r.classify);
    return classify_block(std::move(r.classify));
  });
}

void vkcls_classify_result_free(vkcls_classify_result* r) {
  delete static_cast<ClassifyBlock*>(r);
}

vkcls_status vkcls_token_classify(vkcls_engine* engine, const char* const* texts, size_t count,
                                  const vkcls_params* params, vkcls_token_result** out) {
  return call<TokenBlock>(out, [&](vkcls_status* status) {
    auto in = text_inputs(texts, nullptr, count, "texts");
    Results r = run(engine, Task::token_classify, std::move(in), params_or_defaults(params));
    *status = call_status(r.token_classify);
    return token_block(std::move(r.token_classify));
  });
}

vkcls_status vkcls_token_classify_ids(vkcls_engine* engine, const int32_t* const* ids,
                                      const size_t* lengths, size_t count,
                                      const vkcls_params* params, vkcls_token_result** out) {
  return call<TokenBlock>(out, [&](vkcls_status* status) {
    auto in = id_inputs(ids, lengths, count);
    Results r = run(engine, Task::token_classify, std::move(in), params_or_defaults(params));
    *status = call_status(r.token_classify);
    return token_block(std::move(r.token_classify));
  });
}

void vkcls_token_result_free(vkcls_token_result* r) {
  delete static_cast<TokenBlock*>(r);
}

namespace {
std::vector<TextInput> pairs_of(const char* query, const char* const* documents, size_t count) {
  require(query, "query is NULL", "query");
  std::vector<TextInput> in = text_inputs(documents, nullptr, count, "documents");
  for (TextInput& t : in) {
    t.text_pair = std::move(t.text);
    t.text = query;
  }
  return in;
}
}  // namespace

vkcls_status vkcls_score(vkcls_engine* engine, const char* query, const char* const* documents,
                         size_t count, const vkcls_params* params, vkcls_score_result** out) {
  return call<ScoreBlock>(out, [&](vkcls_status* status) {
    auto in = pairs_of(query, documents, count);
    Results r = run(engine, Task::score, std::move(in), params_or_defaults(params));
    *status = call_status(r.score);
    return score_block(std::move(r.score), input_order(count));
  });
}

vkcls_status vkcls_score_ids(vkcls_engine* engine, const int32_t* const* ids, const size_t* lengths,
                             size_t count, const vkcls_params* params, vkcls_score_result** out) {
  return call<ScoreBlock>(out, [&](vkcls_status* status) {
    auto in = id_inputs(ids, lengths, count);
    Results r = run(engine, Task::score, std::move(in), params_or_defaults(params));
    *status = call_status(r.score);
    return score_block(std::move(r.score), input_order(count));
  });
}

vkcls_status vkcls_rerank(vkcls_engine* engine, const char* query, const char* const* documents,
                          size_t count, size_t top_n, const vkcls_params* params,
                          vkcls_score_result** out) {
  return call<ScoreBlock>(out, [&](vkcls_status* status) {
    auto in = pairs_of(query, documents, count);
    Results r = run(engine, Task::score, std::move(in), params_or_defaults(params));
    *status = call_status(r.score);
    std::vector<size_t> order = input_order(count);
    const std::vector<ScoreResult>& s = r.score;
    std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
      if (s[x].ok() != s[y].ok()) return s[x].ok();
      return s[x].score > s[y].score;
    });
    if (top_n > 0 && top_n < order.size()) order.resize(top_n);
    return score_block(std::move(r.score), order);
  });
}

void vkcls_score_result_free(vkcls_score_result* r) {
  delete static_cast<ScoreBlock*>(r);
}

vkcls_status vkcls_embed(vkcls_engine* engine, const char* const* texts, size_t count,
                         const vkcls_params* params, vkcls_embed_result** out) {
  return call<EmbedBlock>(out, [&](vkcls_status* status) {
    auto in = text_inputs(texts, nullptr, count, "texts");
    Results r = run(engine, Task::embed, std::move(in), params_or_defaults(params));
    *status = call_status(r.embed);
    return embed_block(std::move(r.embed));
  });
}

vkcls_status vkcls_embed_ids(vkcls_engine* engine, const int32_t* const* ids, const size_t* lengths,
                             size_t count, const vkcls_params* params, vkcls_embed_result** out) {
  return call<EmbedBlock>(out, [&](vkcls_status* status) {
    auto in = id_inputs(ids, lengths, count);
    Results r = run(engine, Task::embed, std::move(in), params_or_defaults(params));
    *status = call_status(r.embed);
    return embed_block(std::move(r.embed));
  });
}

void vkcls_embed_result_free(vkcls_embed_result* r) {
  delete static_cast<EmbedBlock*>(r);
}

}  // extern "C"
