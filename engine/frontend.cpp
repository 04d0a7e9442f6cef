#include "engine/frontend.h"

#include <fmt/format.h>

namespace vkcls {

namespace {

Error invalid(const std::string& message, const char* param) {
  return Error(ErrorKind::invalid_input, message, param);
}

// Before tokenizing: a text's cost (time, memory) grows with its bytes, not its tokens.
void check_input_bytes(const std::string& text, const char* field, size_t limit) {
  if (limit > 0 && text.size() > limit)
    throw Error(ErrorKind::too_long,
                fmt::format("{}: {} bytes is more than the limit of {} bytes per input "
                            "(max_input_bytes)",
                            field, text.size(), limit),
                field);
}

// A template that writes its own BOS, tokenized with the post-processor's specials, would
// start with two: transformers never adds the second (apply_chat_template tokenizes with
// add_special_tokens=False), so the post-processor's is dropped.
void drop_repeated_bos(Sequence& s) {
  if (s.ids.size() < 2 || !s.special[0] || s.ids[0] != s.ids[1]) return;
  s.ids.erase(s.ids.begin());
  s.type_ids.erase(s.type_ids.begin());
  s.tokens.erase(s.tokens.begin());
  s.offsets.erase(s.offsets.begin());
  s.special.erase(s.special.begin());
}

}  // namespace

void FrontEnd::check_params(Task task, const RequestParams& p) const {
  for (auto [field, k] : {std::pair{"max_tokens_per_query", p.max_tokens_per_query},
                          std::pair{"max_tokens_per_doc", p.max_tokens_per_doc}}) {
    if (k < 0) throw invalid(fmt::format("{}: {} must be a positive integer", field, k), field);
    if (k > 0 && task != Task::score)
      throw invalid(fmt::format("{}: only score requests take it", field), field);
  }
  const std::pair<const char*, bool> template_fields[] = {
      {"instruction", p.instruction.has_value()},
      {"chat_template_kwargs", !p.chat_template_kwargs_json.empty()}};
  for (auto [field, given] : template_fields) {
    if (!given) continue;
    if (task != Task::score)
      throw invalid(
          fmt::format("{}: only score requests take it (score template variables)", field), field);
    if (!score_template_)
      throw invalid(
          fmt::format("{}: this server has no score template to pass it to (start it "
                      "with --chat-template FILE, e.g. assets/templates/qwen3_reranker.jinja)",
                      field),
          field);
  }
  if (p.truncation_side != "right" && p.truncation_side != "left")
    throw invalid(fmt::format("truncation_side: '{}' is not 'left' or 'right'", p.truncation_side),
                  "truncation_side");
  if (p.truncate_prompt_tokens) {
    int64_t k = *p.truncate_prompt_tokens;
    if (k != -1 && k < 1)
      throw invalid(fmt::format("truncate_prompt_tokens: {} is not -1 or a positive count", k),
                    "truncate_prompt_tokens");
    if (k > limits_.max_model_len)
      throw invalid(
          fmt::format("truncate_prompt_tokens: {} is greater than the model's maximum length {}", k,
                      limits_.max_model_len),
          "truncate_prompt_tokens");
  }
}

Sequence FrontEnd::from_encoding(Encoding&& e) const {
  Sequence s;
  s.ids = std::move(e.ids);
  s.type_ids = std::move(e.type_ids);
  s.tokens = std::move(e.tokens);
  s.special = std::move(e.special_tokens_mask);
  s.offsets.reserve(e.char_offsets.size());
  for (const Offset& o : e.char_offsets) s.offsets.emplace_back(o.start, o.end);
  if (limits_.type_vocab_size == 0) s.type_ids.assign(s.ids.size(), 0);
  return s;
}

std::string FrontEnd::token_prefix(const std::string& text, int64_t k) const {
  if (k <= 0) return text;
  TruncationParams none;  // tokenizer.json's own truncation block does not apply
  Encoding e = tok_->encode(text, false, &none);
  if (e.size() <= size_t(k)) return text;
  return text.substr(0, e.offsets[size_t(k) - 1].end);
}

void FrontEnd::check_sequence(const Sequence& s, const char* field) const {
  if (s.ids.empty()) throw invalid(fmt::format("{}: the input produced no tokens", field), field);
  if (int64_t(s.ids.size()) > limits_.max_model_len)
    throw Error(
        ErrorKind::too_long,
        fmt::format("{}: the input has {} tokens, more than the model's maximum length of {}; "
                    "set truncate_prompt_tokens (-1 truncates to the maximum)",
                    field, s.ids.size(), limits_.max_model_len),
        field);
  for (int32_t id : s.ids)
    if (id < 0 || id >= limits_.vocab_size)
      throw invalid(fmt::format("{}: token id {} is outside the model's vocabulary of {}", field,
                                id, limits_.vocab_size),
                    field);
  if (limits_.type_vocab_size > 0)
    for (int32_t t : s.type_ids)
      if (t >= limits_.type_vocab_size)
        throw invalid(
            fmt::format(
                "text_pair: the tokenizer gives token type {} but the model has type_vocab_size {} "
                "(no pair token types)",
                t, limits_.type_vocab_size),
            "text_pair");
}

PreparedInput FrontEnd::prepare(Task task, const TextInput& in, const RequestParams& p) const {
  PreparedInput out;
  try {
    int64_t keep = 0;  // 0: no truncation
    if (p.truncate_prompt_tokens)
      keep = *p.truncate_prompt_tokens == -1 ? limits_.max_model_len : *p.truncate_prompt_tokens;
    const bool left = p.truncation_side == "left";
    if (in.token_ids && !in.chat) {
      // vLLM takes token ids as they are: no special tokens, only the requested truncation
      Sequence s;
      s.ids = *in.token_ids;
      if (keep > 0 && int64_t(s.ids.size()) > keep) {
        if (left)
          s.ids.erase(s.ids.begin(), s.ids.end() - keep);
        else
          s.ids.resize(size_t(keep));
      }
      s.type_ids.assign(s.ids.size(), 0);
      s.special.assign(s.ids.size(), 0);
      s.offsets.assign(s.ids.size(), {0, 0});
      for (int32_t id : s.ids) {
        auto t = tok_->id_to_token(id);
        s.tokens.push_back(t ? *t : "");
      }
      check_sequence(s, "input");
      out.windows.push_back(std::move(s));
      return out;
    }
    check_input_bytes(in.text, task == Task::score ? "text" : "input", limits_.max_input_bytes);
    if (in.text_pair) check_input_bytes(*in.text_pair, "text_pair", limits_.max_input_bytes);
    // vLLM's max_tokens_per_query / max_tokens_per_doc: a score pair's sides are cut first
    TextInput cut;
    const bool cuts = task == Task::score && in.text_pair && !in.chat &&
                      (p.max_tokens_per_query > 0 || p.max_tokens_per_doc > 0);
    if (cuts) {
      cut.text = token_prefix(in.text, p.max_tokens_per_query);
      cut.text_pair = token_prefix(*in.text_pair, p.max_tokens_per_doc);
    }
    const TextInput& src = cuts ? cut : in;
    const char* field = task == Task::score ? "text_pair" : "input";
    // a score template renders the pair as one text; without one, converted LLM rerankers
    // score query + document as one text (vLLM's rule) and cross-encoders take a text pair
    const bool templated = task == Task::score && !src.chat && src.text_pair && score_template_;
    const bool join = !src.chat && !templated && src.text_pair && limits_.pair_as_one_text;
    std::string joined;
    if (src.chat) {
      if (!src.text.empty() || src.text_pair || src.token_ids)
        throw invalid("messages: a chat input has no text, text_pair or token ids of its own",
                      "messages");
      if (task == Task::score)
        throw invalid("messages: score takes (query, document) pairs, not a conversation",
                      "messages");
      out.rendered = render_chat(*src.chat);
      if (out.rendered.empty())
        throw invalid("messages: the chat template rendered an empty text", "messages");
      field = "messages";
    } else if (templated) {
      out.rendered = render_score(src.text, *src.text_pair, p);
      if (out.rendered.empty())
        throw invalid("text_pair: the score template rendered an empty text", "text_pair");
    } else {
      if (join) joined = src.text + *src.text_pair;
      if ((join ? joined : src.text).empty()) throw invalid("text: input is empty", "input");
    }
    const std::string& text = src.chat || templated ? out.rendered : join ? joined : src.text;
    if (src.chat || templated || join) check_input_bytes(text, field, limits_.max_input_bytes);
    const bool specials = src.chat ? src.chat->add_special_tokens : p.add_special_tokens;
    // max_length 0 = off; a null pointer would apply tokenizer.json's own "truncation"
    // block, which vLLM ignores (truncation is per request).
    TruncationParams tp;
    tp.side = left ? TruncationSide::Left : TruncationSide::Right;
    tp.max_length = size_t(keep);
    if (p.stride > 0) {
      if (src.text_pair)
        throw invalid("text_pair: windows (stride) take single texts", "text_pair");
      tp.max_length = size_t(keep > 0 ? keep : limits_.max_model_len);
      if (p.stride >= int64_t(tp.max_length) - int64_t(tok_->num_special_tokens_to_add(false)))
        throw invalid(
            fmt::format(
                "stride: {} must be less than the window of {} tokens minus the special tokens",
                p.stride, tp.max_length),
            "stride");
      tp.stride = size_t(p.stride);
    }
    Encoding e = src.text_pair && !join && !templated
                     ? tok_->encode_pair(text, *src.text_pair, specials, &tp)
                     : tok_->encode(text, specials, &tp);
    std::vector<Encoding> extra = p.stride > 0 ? std::move(e.overflowing) : std::vector<Encoding>{};
    e.overflowing.clear();
    out.windows.push_back(from_encoding(std::move(e)));
    for (Encoding& w : extra) out.windows.push_back(from_encoding(std::move(w)));
    if ((in.chat || templated) && specials)
      for (Sequence& s : out.windows) drop_repeated_bos(s);
    for (const Sequence& s : out.windows) check_sequence(s, field);
  } catch (const Error& e) {
    out.windows.clear();
    out.rendered.clear();
    out.error = e.what();
    out.kind = e.kind();
  } catch (const TokenizerError& e) {
    out.windows.clear();
    out.rendered.clear();
    out.error = fmt::format("input: {}", e.what());
    out.kind = ErrorKind::invalid_input;
  }
  return out;
}

TokenizeResult FrontEnd::tokenize(const std::string& text, bool add_special_tokens) const {
  check_input_bytes(text, "prompt", limits_.max_input_bytes);
  Encoding e = tok_->encode(text, add_special_tokens);
  TokenizeResult r;
  r.ids = std::move(e.ids);
  r.tokens = std::move(e.tokens);
  for (const Offset& o : e.char_offsets) r.offsets.emplace_back(o.start, o.end);
  return r;
}

std::string FrontEnd::detokenize(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  for (int32_t id : ids)
    if (id < 0 || size_t(id) >= tok_->vocab_size())
      throw invalid(fmt::format("tokens: token id {} is outside the vocabulary of {}", id,
                                tok_->vocab_size()),
                    "tokens");
  return tok_->decode(ids, skip_special_tokens);
}

}  // namespace vkcls
