// vkcls serve: vLLM's pooling API over HTTP (see server.h for the routes).
//
// Request flow: httplib worker thread -> parse + validate JSON (400 naming the field) ->
// Job -> Scheduler queue (429 when full) -> one engine call per batch -> JSON response.
// Shapes follow vLLM's protocol classes (ClassificationResponse, PoolingResponse,
// ScoreResponse, RerankResponse, EmbeddingResponse, ErrorResponse, UsageInfo).
#include "server/server.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fmt/format.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "poolers/activation.h"
#include "server/metrics.h"
#include "server/scheduler.h"
#include "tokenizer/tokenizer.h"

namespace vkcls::server {

namespace {

using json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------
// errors

struct ApiError : std::runtime_error {
  int status;
  std::string type;
  std::optional<std::string> param;
  ApiError(int s, const std::string& message, std::optional<std::string> p = std::nullopt, std::string t = "")
      : std::runtime_error(message), status(s), type(std::move(t)), param(std::move(p)) {}
};

ApiError bad_request(const std::string& message, std::optional<std::string> param = std::nullopt) {
  return ApiError(400, message, std::move(param));
}

const char* error_type(int status) {
  switch (status) {
    case 400: return "BadRequestError";
    case 401: return "AuthenticationError";
    case 404: return "NotFoundError";
    case 413: return "RequestEntityTooLargeError";
    case 422: return "UnprocessableEntityError";
    case 429: return "TooManyRequestsError";
    case 503: return "ServiceUnavailableError";
    default: return status >= 500 ? "InternalServerError" : "BadRequestError";
  }
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json error_json(int status, const std::string& message, const std::optional<std::string>& param, const std::string& type = "") {
  json e;
  e["message"] = message;
  e["type"] = type.empty() ? error_type(status) : type;
  e["param"] = param ? json(*param) : json(nullptr);
  e["code"] = status;
  return json{{"error", std::move(e)}};
}

void set_error(httplib::Response& res, int status, const std::string& message, const std::optional<std::string>& param = std::nullopt,
               const std::string& type = "") {
  res.status = status;
  res.set_content(dump(error_json(status, message, param, type)), "application/json");
}

// ---------------------------------------------------------------------------------------
// small utilities

std::string random_uuid() {
  thread_local std::mt19937_64 rng{std::random_device{}() ^ uint64_t(std::hash<std::thread::id>{}(std::this_thread::get_id()))};
  return fmt::format("{:016x}{:016x}", rng(), rng());
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string iso_now() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  int ms = int(std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z", buf, ms);
}

std::string base64_encode(const uint8_t* p, size_t n) {
  static const char* tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < n; i += 3) {
    uint32_t v = uint32_t(p[i]) << 16 | uint32_t(p[i + 1]) << 8 | p[i + 2];
    out += tbl[v >> 18 & 63], out += tbl[v >> 12 & 63], out += tbl[v >> 6 & 63], out += tbl[v & 63];
  }
  if (i + 1 == n) {
    uint32_t v = uint32_t(p[i]) << 16;
    out += tbl[v >> 18 & 63], out += tbl[v >> 12 & 63], out += "==";
  } else if (i + 2 == n) {
    uint32_t v = uint32_t(p[i]) << 16 | uint32_t(p[i + 1]) << 8;
    out += tbl[v >> 18 & 63], out += tbl[v >> 12 & 63], out += tbl[v >> 6 & 63], out += '=';
  }
  return out;
}

// float32 values as base64 of their bytes (little-endian unless big_endian).
std::string floats_base64(const std::vector<float>& v, bool big_endian) {
  std::vector<uint8_t> bytes(v.size() * 4);
  for (size_t i = 0; i < v.size(); ++i) {
    uint32_t u;
    std::memcpy(&u, &v[i], 4);
    for (int b = 0; b < 4; ++b) bytes[i * 4 + size_t(big_endian ? 3 - b : b)] = uint8_t(u >> (8 * b));
  }
  return base64_encode(bytes.data(), bytes.size());
}

const char* json_type(const json& j) {
  switch (j.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "boolean";
    case json::value_t::string: return "string";
    case json::value_t::array: return "array";
    case json::value_t::object: return "object";
    case json::value_t::number_float: return "number";
    default: return "integer";
  }
}

// ---------------------------------------------------------------------------------------
// request fields: absent or null -> nullopt; wrong type -> 400 naming the field

const json* field(const json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<bool> get_bool(const json& body, const char* name) {
  const json* f = field(body, name);
  if (!f) return std::nullopt;
  if (!f->is_boolean()) throw bad_request(fmt::format("{}: expected a boolean, got {}", name, json_type(*f)), name);
  return f->get<bool>();
}

std::optional<int64_t> get_int(const json& body, const char* name) {
  const json* f = field(body, name);
  if (!f) return std::nullopt;
  if (!f->is_number_integer()) throw bad_request(fmt::format("{}: expected an integer, got {}", name, json_type(*f)), name);
  if (f->is_number_unsigned() && f->get<uint64_t>() > uint64_t(INT64_MAX))
    throw bad_request(fmt::format("{}: {} is out of range", name, f->get<uint64_t>()), name);
  return f->get<int64_t>();
}

std::optional<std::string> get_string(const json& body, const char* name) {
  const json* f = field(body, name);
  if (!f) return std::nullopt;
  if (!f->is_string()) throw bad_request(fmt::format("{}: expected a string, got {}", name, json_type(*f)), name);
  return f->get<std::string>();
}

// string | [string] -> list of strings
std::vector<std::string> get_strings(const json& f, const char* name) {
  if (f.is_string()) return {f.get<std::string>()};
  if (!f.is_array()) throw bad_request(fmt::format("{}: expected a string or a list of strings, got {}", name, json_type(f)), name);
  std::vector<std::string> out;
  for (size_t i = 0; i < f.size(); ++i) {
    if (!f[i].is_string())
      throw bad_request(fmt::format("{}[{}]: expected a string, got {}", name, i, json_type(f[i])), name);
    out.push_back(f[i].get<std::string>());
  }
  return out;
}

// `input`: string | [string] | [int] | [[int]]
struct Inputs {
  bool is_ids = false;
  std::vector<std::string> texts;
  std::vector<std::vector<int32_t>> ids;
  size_t size() const { return is_ids ? ids.size() : texts.size(); }
};

std::vector<int32_t> get_ids(const json& a, const std::string& where, const char* param) {
  std::vector<int32_t> out;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!a[i].is_number_integer())
      throw bad_request(fmt::format("{}[{}]: expected a token id (integer), got {}", where, i, json_type(a[i])), param);
    int64_t v = a[i].get<int64_t>();
    if (v < 0 || v > INT32_MAX) throw bad_request(fmt::format("{}[{}]: token id {} is negative or too large", where, i, v), param);
    out.push_back(int32_t(v));
  }
  return out;
}

Inputs get_inputs(const json& body, const char* name) {
  const json* f = field(body, name);
  if (!f) throw bad_request(fmt::format("{}: field required", name), name);
  Inputs in;
  const char* expected = "a string, a list of strings, a list of token ids or a list of lists of token ids";
  if (f->is_string()) {
    in.texts.push_back(f->get<std::string>());
    return in;
  }
  if (!f->is_array()) throw bad_request(fmt::format("{}: expected {}, got {}", name, expected, json_type(*f)), name);
  if (f->empty()) throw bad_request(fmt::format("{}: the list is empty", name), name);
  const json& first = (*f)[0];
  if (first.is_string()) {
    in.texts = get_strings(*f, name);
  } else if (first.is_number_integer()) {
    in.is_ids = true;
    in.ids.push_back(get_ids(*f, name, name));
  } else if (first.is_array()) {
    in.is_ids = true;
    for (size_t i = 0; i < f->size(); ++i) {
      if (!(*f)[i].is_array())
        throw bad_request(fmt::format("{}[{}]: expected a list of token ids, got {}", name, i, json_type((*f)[i])), name);
      in.ids.push_back(get_ids((*f)[i], fmt::format("{}[{}]", name, i), name));
    }
  } else {
    throw bad_request(fmt::format("{}: expected {}, got a list of {}", name, expected, json_type(first)), name);
  }
  return in;
}

// ---------------------------------------------------------------------------------------
// the server state

struct Ctx {
  Engine& engine;
  const ServerOptions& opt;
  const ModelInfo& info;
  std::string model_name;
  int64_t created = unix_now();
  std::optional<Tokenizer> tokenizer;
  Metrics metrics;
  std::unique_ptr<Scheduler> scheduler;
  Activation activation = Activation::softmax;

  Ctx(Engine& e, const ServerOptions& o) : engine(e), opt(o), info(e.info()) {}

  bool supports(const std::string& task) const {
    return std::find(info.tasks.begin(), info.tasks.end(), task) != info.tasks.end();
  }
  void require(const std::string& task, const char* param) const {
    if (!supports(task))
      throw bad_request(fmt::format("the model '{}' ({}) does not support {}: it supports {}", model_name, info.architecture, task,
                                    fmt::join(info.tasks, ", ")),
                        param);
  }
  std::string label_name(size_t i) const {
    return info.has_labels && i < info.labels.size() ? info.labels[i] : fmt::format("LABEL_{}", i);
  }
};

// Fields shared by the pooling requests (PoolingBasicRequestMixin + friends).
struct Common {
  RequestParams params;
  int64_t priority = 0;
  std::optional<bool> use_activation;
};

void check_model(const Ctx& c, const json& body) {
  auto model = get_string(body, "model");
  if (model && *model != c.model_name)
    throw ApiError(404, fmt::format("The model `{}` does not exist.", *model), "model");
}

Common get_common(const Ctx& c, const json& body) {
  check_model(c, body);
  Common out;
  if (auto t = get_int(body, "truncate_prompt_tokens")) {
    if (*t < -1) throw bad_request(fmt::format("truncate_prompt_tokens: {} must be -1 (the model's maximum) or a positive count", *t),
                                   "truncate_prompt_tokens");
    if (*t == 0) throw bad_request("truncate_prompt_tokens: 0 must be -1 (the model's maximum) or a positive count", "truncate_prompt_tokens");
    if (*t > c.info.max_model_len)
      throw bad_request(fmt::format("truncate_prompt_tokens: {} is greater than max_model_len {}", *t, c.info.max_model_len),
                        "truncate_prompt_tokens");
    out.params.truncate_prompt_tokens = *t;
  }
  if (auto s = get_string(body, "truncation_side")) {
    if (*s != "left" && *s != "right")
      throw bad_request(fmt::format("truncation_side: '{}' is not 'left' or 'right'", *s), "truncation_side");
    out.params.truncation_side = *s;
  }
  if (auto b = get_bool(body, "add_special_tokens")) out.params.add_special_tokens = *b;
  out.use_activation = get_bool(body, "use_activation");
  // deprecated spellings vLLM still reads for score / rerank
  if (!out.use_activation) out.use_activation = get_bool(body, "activation");
  if (!out.use_activation) out.use_activation = get_bool(body, "softmax");
  if (out.use_activation) out.params.use_activation = *out.use_activation;
  if (auto p = get_int(body, "priority")) out.priority = *p;
  if (body.contains("normalize"))
    throw bad_request("Parameter `normalize` was removed; use `use_activation` instead.", "normalize");
  get_string(body, "user");
  return out;
}

std::string params_key(const RequestParams& p, const EmbedParams* e = nullptr) {
  std::string k = fmt::format("t={};s={};a={};u={}", p.truncate_prompt_tokens ? *p.truncate_prompt_tokens : -2, p.truncation_side,
                              int(p.add_special_tokens), int(p.use_activation));
  if (e) k += fmt::format(";n={};d={}", int(e->normalize), e->dimensions ? *e->dimensions : -1);
  return k;
}

void check_count(const Ctx& c, size_t n, const char* param) {
  if (n > c.opt.max_inputs_per_request)
    throw bad_request(fmt::format("{}: {} inputs, more than the limit of {} per request (--max-inputs-per-request)", param, n,
                                  c.opt.max_inputs_per_request),
                      param);
}

int64_t estimate_tokens(const std::string& a, const std::string* b = nullptr) {
  return int64_t(a.size() / 4 + (b ? b->size() / 4 : 0)) + 3;
}

// Token-id inputs: check ids and truncate as the request says (vLLM takes ids as given).
std::vector<Engine::IdsInput> prepare_ids(const Ctx& c, const Inputs& in, const RequestParams& p, const char* param) {
  std::vector<Engine::IdsInput> out;
  int64_t vocab = c.tokenizer ? int64_t(c.tokenizer->vocab_size()) : INT32_MAX;
  for (size_t i = 0; i < in.ids.size(); ++i) {
    std::vector<int32_t> ids = in.ids[i];
    if (ids.empty()) throw bad_request(fmt::format("{}[{}]: the list of token ids is empty", param, i), param);
    for (int32_t id : ids)
      if (id >= vocab)
        throw bad_request(fmt::format("{}[{}]: token id {} is outside the vocabulary of {}", param, i, id, vocab), param);
    if (p.truncate_prompt_tokens) {
      size_t k = size_t(*p.truncate_prompt_tokens == -1 ? c.info.max_model_len : *p.truncate_prompt_tokens);
      if (ids.size() > k) {
        if (p.truncation_side == "left") ids.erase(ids.begin(), ids.end() - ptrdiff_t(k));
        else ids.resize(k);
      }
    }
    if (int64_t(ids.size()) > c.info.max_model_len)
      throw bad_request(fmt::format("{}[{}]: the input has {} tokens, more than the model's maximum length of {}; "
                                    "set truncate_prompt_tokens (-1 truncates to the maximum)",
                                    param, i, ids.size(), c.info.max_model_len),
                        param);
    Engine::IdsInput x;
    x.type_ids.assign(ids.size(), 0);
    x.ids = std::move(ids);
    out.push_back(std::move(x));
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// running a job: queue, wait, notice a client that went away

// The accepted socket of this request: the one whose peer is remote_addr:remote_port.
// (httplib 0.11 has no Request::is_connection_closed.)
int find_client_socket(const httplib::Request& req) {
  DIR* d = opendir("/proc/self/fd");
  if (!d) return -1;
  int found = -1;
  while (dirent* e = readdir(d)) {
    int fd = std::atoi(e->d_name);
    if (fd <= 2) continue;
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) continue;
    char host[INET6_ADDRSTRLEN] = {};
    int port = -1;
    if (ss.ss_family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
      port = ntohs(a->sin_port);
    } else if (ss.ss_family == AF_INET6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
      port = ntohs(a->sin6_port);
    } else {
      continue;
    }
    if (port == req.remote_port && req.remote_addr == host) {
      found = fd;
      break;
    }
  }
  closedir(d);
  return found;
}

bool peer_closed(int fd) {
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  if (poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLERR | POLLHUP | POLLRDHUP | POLLNVAL)) return true;
  char ch;
  return recv(fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

struct ClientGone {};

void run_job(Ctx& c, const std::shared_ptr<Job>& job, const httplib::Request& req) {
  if (!c.scheduler->submit(job))
    throw ApiError(429, fmt::format("The server is over capacity: {} requests are queued (--max-queue {}); retry later",
                                    c.scheduler->queue_depth(), c.opt.max_queue));
  int fd = -2;
  while (!job->wait_for(std::chrono::milliseconds(fd == -2 ? 20 : 50))) {
    if (fd == -2) fd = find_client_socket(req);
    if (fd >= 0 && peer_closed(fd)) {
      job->cancelled = true;
      throw ClientGone{};
    }
  }
  if (!job->fatal.empty()) {
    if (job->fatal.rfind("cancelled", 0) == 0) throw ClientGone{};
    bool device = job->fatal.find("device") != std::string::npos || c.scheduler->device_lost();
    throw ApiError(device ? 503 : 500, job->fatal);
  }
}

// A failed input fails the request (as vLLM does): 400 naming the input, or 503 for the device.
void check_input_error(const std::string& err, size_t i, const char* param) {
  if (err.empty()) return;
  if (err.rfind("device:", 0) == 0) throw ApiError(503, fmt::format("{}[{}]: {}", param, i, err));
  throw bad_request(fmt::format("{}[{}]: {}", param, i, err), param);
}

json usage_json(int64_t prompt_tokens) {
  return json{{"prompt_tokens", prompt_tokens}, {"total_tokens", prompt_tokens}, {"completion_tokens", 0},
              {"prompt_tokens_details", nullptr}};
}

// ---------------------------------------------------------------------------------------
// per task: run inputs, give back rows

struct ClassifyRow {
  std::vector<float> probs;
  size_t label = 0;
  int64_t tokens = 0;
};

std::vector<ClassifyRow> run_classify(Ctx& c, const Inputs& in, const Common& com, const httplib::Request& req, const char* param) {
  auto job = std::make_shared<Job>();
  job->task = Task::Classify;
  job->params = com.params;
  job->priority = com.priority;
  job->key = params_key(com.params);
  std::vector<ClassifyRow> rows(in.size());
  if (in.is_ids) {
    job->ids = true;
    job->id_inputs = prepare_ids(c, in, com.params, param);
    for (auto& x : job->id_inputs) job->est_tokens += int64_t(x.ids.size());
    run_job(c, job, req);
    for (size_t i = 0; i < rows.size(); ++i) {
      rows[i].probs = std::move(job->raw.at(i));
      if (com.params.use_activation) apply_activation(c.activation, rows[i].probs);
      rows[i].tokens = int64_t(job->id_inputs[i].ids.size());
    }
  } else {
    for (auto& t : in.texts) {
      job->texts.push_back({t, std::nullopt});
      job->est_tokens += estimate_tokens(t);
    }
    run_job(c, job, req);
    for (size_t i = 0; i < rows.size(); ++i) {
      const ClassifyResult& r = job->classify.at(i);
      check_input_error(r.error, i, param);
      rows[i].probs = r.probs;
      rows[i].tokens = r.prompt_tokens;
    }
  }
  for (auto& r : rows) r.label = size_t(std::max_element(r.probs.begin(), r.probs.end()) - r.probs.begin());
  return rows;
}

struct EmbedRow {
  std::vector<float> v;
  int64_t tokens = 0;
};

std::vector<EmbedRow> run_embed(Ctx& c, const Inputs& in, const Common& com, const EmbedParams& ep, const httplib::Request& req,
                                const char* param) {
  auto job = std::make_shared<Job>();
  job->task = Task::Embed;
  job->params = com.params;
  job->embed_params = ep;
  job->priority = com.priority;
  job->key = params_key(com.params, &ep);
  std::vector<EmbedRow> rows(in.size());
  if (in.is_ids) {
    job->ids = true;
    job->id_inputs = prepare_ids(c, in, com.params, param);
    for (auto& x : job->id_inputs) job->est_tokens += int64_t(x.ids.size());
    run_job(c, job, req);
    for (size_t i = 0; i < rows.size(); ++i) {
      std::vector<float> v = std::move(job->raw.at(i));
      if (ep.dimensions) v.resize(size_t(*ep.dimensions));
      if (ep.normalize) {
        double n = 0;
        for (float x : v) n += double(x) * x;
        n = std::max(std::sqrt(n), 1e-12);
        for (float& x : v) x = float(x / n);
      }
      rows[i] = {std::move(v), int64_t(job->id_inputs[i].ids.size())};
    }
  } else {
    for (auto& t : in.texts) {
      job->texts.push_back({t, std::nullopt});
      job->est_tokens += estimate_tokens(t);
    }
    run_job(c, job, req);
    for (size_t i = 0; i < rows.size(); ++i) {
      const EmbedResult& r = job->embed.at(i);
      check_input_error(r.error, i, param);
      rows[i] = {r.embedding, r.prompt_tokens};
    }
  }
  return rows;
}

EmbedParams get_embed_params(const Ctx& c, const json& body, const Common& com) {
  EmbedParams ep;
  ep.normalize = com.use_activation.value_or(true);
  if (auto d = get_int(body, "dimensions")) {
    if (*d < 1 || *d > c.info.hidden_size)
      throw bad_request(fmt::format("dimensions: {} is outside 1..{} (the model's hidden size)", *d, c.info.hidden_size), "dimensions");
    ep.dimensions = *d;
  }
  return ep;
}

struct Encoding_ {
  bool base64 = false, big_endian = false;
};

Encoding_ get_encoding(const json& body) {
  Encoding_ e;
  if (auto f = get_string(body, "encoding_format")) {
    if (*f == "base64") e.base64 = true;
    else if (*f != "float")
      throw bad_request(fmt::format("encoding_format: '{}' is not 'float' or 'base64'", *f), "encoding_format");
  }
  if (auto d = get_string(body, "embed_dtype"); d && *d != "float32")
    throw bad_request(fmt::format("embed_dtype: '{}' is not supported (only 'float32')", *d), "embed_dtype");
  if (auto en = get_string(body, "endianness")) {
    if (*en == "big") e.big_endian = true;
    else if (*en != "native" && *en != "little")
      throw bad_request(fmt::format("endianness: '{}' is not 'native', 'little' or 'big'", *en), "endianness");
  }
  return e;
}

json vector_json(const std::vector<float>& v, const Encoding_& enc) {
  if (enc.base64) return floats_base64(v, enc.big_endian);
  return json(v);
}

// softmax in double, as the HF token-classification pipeline does
std::vector<float> softmax_row(const float* x, size_t n) {
  std::vector<float> row(x, x + n);
  apply_activation(Activation::softmax, row);  // double precision, like the pipeline's
  return row;
}

// ---------------------------------------------------------------------------------------
// routes

using Handler = std::function<json(Ctx&, const json& body, const httplib::Request& req, const std::string& request_id)>;

json handle_classify(Ctx& c, const json& body, const httplib::Request& req, const std::string& rid) {
  Common com = get_common(c, body);
  if (body.contains("messages")) throw bad_request("messages: chat input is not supported by this server; send `input`", "messages");
  Inputs in = get_inputs(body, "input");
  check_count(c, in.size(), "input");
  std::optional<int64_t> top_k = get_int(body, "top_k");
  if (top_k && *top_k < -1) throw bad_request(fmt::format("top_k: {} must be -1 (all), 0 or a positive count", *top_k), "top_k");
  c.require("classify", "model");
  std::vector<ClassifyRow> rows = run_classify(c, in, com, req, "input");
  json data = json::array();
  int64_t tokens = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    json d;
    d["index"] = i;
    d["label"] = c.label_name(rows[i].label);
    d["probs"] = rows[i].probs;
    d["num_classes"] = rows[i].probs.size();
    if (top_k && *top_k != 0) {
      std::vector<size_t> order(rows[i].probs.size());
      for (size_t k = 0; k < order.size(); ++k) order[k] = k;
      std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return rows[i].probs[a] > rows[i].probs[b]; });
      if (*top_k > 0 && size_t(*top_k) < order.size()) order.resize(size_t(*top_k));
      json tk = json::array();
      for (size_t k : order) tk.push_back({{"label", c.label_name(k)}, {"score", rows[i].probs[k]}});
      d["top_k"] = std::move(tk);
    }
    data.push_back(std::move(d));
    tokens += rows[i].tokens;
  }
  return json{{"id", "classify-" + rid}, {"object", "list"}, {"created", unix_now()}, {"model", c.model_name},
              {"data", std::move(data)}, {"usage", usage_json(tokens)}};
}

json entities_json(const std::vector<Entity>& ents, bool per_token) {
  json out = json::array();
  for (const Entity& e : ents) {
    json j;
    j[per_token ? "entity" : "entity_group"] = e.entity;
    j["score"] = e.score;
    if (per_token) j["index"] = e.index;
    j["word"] = e.word;
    j["start"] = e.start;
    j["end"] = e.end;
    out.push_back(std::move(j));
  }
  return out;
}

json handle_pooling(Ctx& c, const json& body, const httplib::Request& req, const std::string& rid) {
  Common com = get_common(c, body);
  if (body.contains("messages")) throw bad_request("messages: chat input is not supported by this server; send `input`", "messages");
  std::string task;
  if (auto t = get_string(body, "task")) {
    task = *t;
    if (task != "classify" && task != "token_classify" && task != "embed")
      throw bad_request(fmt::format("task: '{}' is not one of classify, token_classify, embed", task), "task");
    c.require(task, "task");
  } else {
    for (const char* t : {"token_classify", "classify", "embed"})
      if (c.supports(t)) {
        task = t;
        break;
      }
    if (task.empty()) throw bad_request("task: the model supports none of classify, token_classify, embed", "task");
  }
  Inputs in = get_inputs(body, "input");
  check_count(c, in.size(), "input");
  Encoding_ enc = get_encoding(body);
  json data = json::array();
  int64_t tokens = 0;
  if (task == "classify") {
    for (auto& r : run_classify(c, in, com, req, "input")) {
      data.push_back({{"index", data.size()}, {"object", "pooling"}, {"data", vector_json(r.probs, enc)}});
      tokens += r.tokens;
    }
  } else if (task == "embed") {
    EmbedParams ep = get_embed_params(c, body, com);
    for (auto& r : run_embed(c, in, com, ep, req, "input")) {
      data.push_back({{"index", data.size()}, {"object", "pooling"}, {"data", vector_json(r.v, enc)}});
      tokens += r.tokens;
    }
  } else {
    // token_classify: per-token rows, or entity spans with "aggregation" (the HF pipeline's)
    std::optional<std::string> agg_name = get_string(body, "aggregation");
    std::optional<AggregationOptions> agg;
    if (agg_name) {
      if (!c.opt.tokens_to_string) throw bad_request("aggregation: not available in this build", "aggregation");
      if (in.is_ids) throw bad_request("aggregation: needs text input (token offsets), not token ids", "aggregation");
      agg.emplace();
      try {
        agg->strategy = aggregation_from_string(*agg_name);
      } catch (const std::exception& e) {
        throw bad_request(fmt::format("aggregation: {}", e.what()), "aggregation");
      }
      if (const json* il = field(body, "ignore_labels")) agg->ignore_labels = get_strings(*il, "ignore_labels");
      agg->subwords = c.opt.subwords;
    }
    auto job = std::make_shared<Job>();
    job->task = Task::TokenClassify;
    job->params = com.params;
    if (agg) job->params.use_activation = false;  // the pipeline's own softmax, below
    job->priority = com.priority;
    job->key = params_key(job->params);
    std::vector<std::vector<std::vector<float>>> rows(in.size());
    size_t width = size_t(c.info.num_labels);
    if (in.is_ids) {
      job->ids = true;
      job->id_inputs = prepare_ids(c, in, com.params, "input");
      for (auto& x : job->id_inputs) job->est_tokens += int64_t(x.ids.size());
      run_job(c, job, req);
      for (size_t i = 0; i < in.size(); ++i) {
        const std::vector<float>& v = job->raw.at(i);
        size_t n = job->id_inputs[i].ids.size(), w = n ? v.size() / n : width;
        for (size_t t = 0; t < n; ++t) {
          std::vector<float> row(v.begin() + ptrdiff_t(t * w), v.begin() + ptrdiff_t((t + 1) * w));
          if (com.params.use_activation) apply_activation(c.activation, row);
          rows[i].push_back(std::move(row));
        }
        tokens += int64_t(n);
      }
    } else {
      for (auto& t : in.texts) {
        job->texts.push_back({t, std::nullopt});
        job->est_tokens += estimate_tokens(t);
      }
      run_job(c, job, req);
      for (size_t i = 0; i < in.size(); ++i) check_input_error(job->token_classify.at(i).error, i, "input");
    }
    for (size_t i = 0; i < in.size(); ++i) {
      json item;
      if (in.is_ids) {
        item = json(rows[i]);
        if (enc.base64) {
          std::vector<float> flat;
          for (auto& r : rows[i]) flat.insert(flat.end(), r.begin(), r.end());
          item = floats_base64(flat, enc.big_endian);
        }
      } else {
        const TokenClassifyResult& r = job->token_classify[i];
        tokens += r.prompt_tokens;
        if (agg) {
          std::vector<std::string> labels;
          for (size_t k = 0; k < width; ++k) labels.push_back(c.label_name(k));
          std::vector<TokenRow> trs;
          for (const TokenScore& s : r.tokens) {
            TokenRow tr;
            tr.probs = softmax_row(s.probs.data(), s.probs.size());
            tr.token = s.token;
            tr.start = s.start;
            tr.end = s.end;
            tr.special = s.special;
            tr.unk = c.opt.unk_id && s.token_id == *c.opt.unk_id;
            trs.push_back(std::move(tr));
          }
          item = entities_json(aggregate_tokens(in.texts[i], trs, labels, *agg, c.opt.tokens_to_string),
                               agg->strategy == Aggregation::None);
        } else if (enc.base64) {
          std::vector<float> flat;
          for (auto& s : r.tokens) flat.insert(flat.end(), s.probs.begin(), s.probs.end());
          item = floats_base64(flat, enc.big_endian);
        } else {
          item = json::array();
          for (auto& s : r.tokens) item.push_back(s.probs);
        }
      }
      data.push_back({{"index", i}, {"object", "pooling"}, {"data", std::move(item)}});
    }
  }
  return json{{"id", "pool-" + rid}, {"object", "list"}, {"created", unix_now()}, {"model", c.model_name},
              {"data", std::move(data)}, {"usage", usage_json(tokens)}};
}

struct ScoreRows {
  std::vector<float> scores;
  int64_t tokens = 0;
};

ScoreRows run_pairs(Ctx& c, std::vector<TextInput> pairs, const Common& com, const httplib::Request& req, const char* param) {
  auto job = std::make_shared<Job>();
  job->task = Task::Score;
  job->params = com.params;
  job->priority = com.priority;
  job->key = params_key(com.params);
  for (auto& p : pairs) job->est_tokens += estimate_tokens(p.text, &*p.text_pair);
  job->texts = std::move(pairs);
  run_job(c, job, req);
  ScoreRows out;
  for (size_t i = 0; i < job->score.size(); ++i) {
    check_input_error(job->score[i].error, i, param);
    out.scores.push_back(job->score[i].score);
    out.tokens += job->score[i].prompt_tokens;
  }
  return out;
}

json handle_score(Ctx& c, const json& body, const httplib::Request& req, const std::string& rid) {
  Common com = get_common(c, body);
  const char* spellings[][2] = {{"queries", "documents"}, {"queries", "items"}, {"data_1", "data_2"}, {"text_1", "text_2"}};
  const char *n1 = nullptr, *n2 = nullptr;
  for (auto& s : spellings)
    if (field(body, s[0]) && field(body, s[1])) {
      n1 = s[0], n2 = s[1];
      break;
    }
  if (!n1) {
    for (auto& s : spellings) {
      if (field(body, s[0])) throw bad_request(fmt::format("{}: field required (with {})", s[1], s[0]), s[1]);
      if (field(body, s[1])) throw bad_request(fmt::format("{}: field required (with {})", s[0], s[1]), s[0]);
    }
    throw bad_request("queries: field required: give `queries` and `documents` (or `text_1` and `text_2`, `data_1` and `data_2`)",
                      "queries");
  }
  std::vector<std::string> a = get_strings(*field(body, n1), n1), b = get_strings(*field(body, n2), n2);
  if (a.empty()) throw bad_request(fmt::format("{}: at least one text element must be given", n1), n1);
  if (b.empty()) throw bad_request(fmt::format("{}: at least one text element must be given", n2), n2);
  if (a.size() > 1 && a.size() != b.size())
    throw bad_request(fmt::format("Input lengths must be either 1:1, 1:N or N:N: {} has {}, {} has {}", n1, a.size(), n2, b.size()), n2);
  check_count(c, b.size(), n2);
  c.require("score", "model");
  std::vector<TextInput> pairs;
  for (size_t i = 0; i < b.size(); ++i) pairs.push_back({a.size() == 1 ? a[0] : a[i], b[i]});
  ScoreRows r = run_pairs(c, std::move(pairs), com, req, n2);
  json data = json::array();
  for (size_t i = 0; i < r.scores.size(); ++i) data.push_back({{"index", i}, {"object", "score"}, {"score", r.scores[i]}});
  return json{{"id", "score-" + rid}, {"object", "list"}, {"created", unix_now()}, {"model", c.model_name},
              {"data", std::move(data)}, {"usage", usage_json(r.tokens)}};
}

json handle_rerank(Ctx& c, const json& body, const httplib::Request& req, const std::string& rid) {
  Common com = get_common(c, body);
  const json* q = field(body, "query");
  if (!q) throw bad_request("query: field required", "query");
  if (!q->is_string()) throw bad_request(fmt::format("query: expected a string, got {}", json_type(*q)), "query");
  const json* d = field(body, "documents");
  if (!d) throw bad_request("documents: field required", "documents");
  std::vector<std::string> docs = get_strings(*d, "documents");
  if (docs.empty()) throw bad_request("documents: at least one document must be given", "documents");
  check_count(c, docs.size(), "documents");
  int64_t top_n = get_int(body, "top_n").value_or(0);
  bool return_documents = get_bool(body, "return_documents").value_or(true);
  c.require("score", "model");
  std::vector<TextInput> pairs;
  for (auto& doc : docs) pairs.push_back({q->get<std::string>(), doc});
  ScoreRows r = run_pairs(c, std::move(pairs), com, req, "documents");
  std::vector<size_t> order(r.scores.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) { return r.scores[x] > r.scores[y]; });
  if (top_n > 0 && size_t(top_n) < order.size()) order.resize(size_t(top_n));
  json results = json::array();
  for (size_t i : order) {
    json item;
    item["index"] = i;
    if (return_documents) item["document"] = {{"text", docs[i]}};
    item["relevance_score"] = r.scores[i];
    results.push_back(std::move(item));
  }
  return json{{"id", "rerank-" + rid}, {"model", c.model_name},
              {"usage", {{"prompt_tokens", r.tokens}, {"total_tokens", r.tokens}}}, {"results", std::move(results)}};
}

json handle_embeddings(Ctx& c, const json& body, const httplib::Request& req, const std::string& rid) {
  Common com = get_common(c, body);
  if (body.contains("messages")) throw bad_request("messages: chat input is not supported by this server; send `input`", "messages");
  Inputs in = get_inputs(body, "input");
  check_count(c, in.size(), "input");
  Encoding_ enc = get_encoding(body);
  EmbedParams ep = get_embed_params(c, body, com);
  c.require("embed", "model");
  json data = json::array();
  int64_t tokens = 0;
  for (auto& r : run_embed(c, in, com, ep, req, "input")) {
    data.push_back({{"index", data.size()}, {"object", "embedding"}, {"embedding", vector_json(r.v, enc)}});
    tokens += r.tokens;
  }
  return json{{"id", "embd-" + rid}, {"object", "list"}, {"created", unix_now()}, {"model", c.model_name},
              {"data", std::move(data)}, {"usage", usage_json(tokens)}};
}

json handle_tokenize(Ctx& c, const json& body, const httplib::Request&, const std::string&) {
  check_model(c, body);
  if (!c.tokenizer) throw ApiError(500, "the model folder has no tokenizer");
  if (body.contains("messages")) throw bad_request("messages: chat input is not supported by this server; send `prompt`", "messages");
  auto prompt = get_string(body, "prompt");
  if (!prompt) throw bad_request("prompt: field required", "prompt");
  bool add_special = get_bool(body, "add_special_tokens").value_or(true);
  bool strs = get_bool(body, "return_token_strs").value_or(false);
  Encoding e = c.tokenizer->encode(*prompt, add_special);
  json out;
  out["count"] = e.ids.size();
  out["max_model_len"] = c.info.max_model_len;
  out["tokens"] = e.ids;
  out["token_strs"] = strs ? json(e.tokens) : json(nullptr);
  return out;
}

json handle_detokenize(Ctx& c, const json& body, const httplib::Request&, const std::string&) {
  check_model(c, body);
  if (!c.tokenizer) throw ApiError(500, "the model folder has no tokenizer");
  const json* t = field(body, "tokens");
  if (!t) throw bad_request("tokens: field required", "tokens");
  if (!t->is_array()) throw bad_request(fmt::format("tokens: expected a list of token ids, got {}", json_type(*t)), "tokens");
  std::vector<int32_t> ids = get_ids(*t, "tokens", "tokens");
  for (int32_t id : ids)
    if (size_t(id) >= c.tokenizer->vocab_size())
      throw bad_request(fmt::format("tokens: token id {} is outside the vocabulary of {}", id, c.tokenizer->vocab_size()), "tokens");
  return json{{"prompt", c.tokenizer->decode(ids, false)}};  // vLLM: tokenizer.decode(ids), specials kept
}

// ---------------------------------------------------------------------------------------
// signals: SIGTERM / SIGINT are taken by a thread with sigwait, so every other thread
// (engine, driver, httplib workers) must have them blocked: block before creating any.

sigset_t stop_signals() {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGTERM);
  sigaddset(&s, SIGINT);
  return s;
}

thread_local Clock::time_point t_request_start{};

}  // namespace

void block_stop_signals() {
  sigset_t s = stop_signals();
  pthread_sigmask(SIG_BLOCK, &s, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

int run_server(Engine& engine, const ServerOptions& opt) {
  block_stop_signals();
  Ctx c(engine, opt);
  c.model_name = !opt.served_model_name.empty() ? opt.served_model_name
                                                 : std::filesystem::path(opt.model_dir).lexically_normal().filename().string();
  if (c.model_name.empty() || c.model_name == ".")
    c.model_name = std::filesystem::path(opt.model_dir).lexically_normal().parent_path().filename().string();
  c.activation = c.info.activation == "sigmoid" ? Activation::sigmoid
               : c.info.activation == "identity" ? Activation::identity : Activation::softmax;
  try {
    c.tokenizer = Tokenizer::from_model_dir(opt.model_dir);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vkcls serve: no tokenizer (/tokenize, /detokenize disabled): %s\n", e.what());
  }
  c.scheduler = std::make_unique<Scheduler>(engine, opt.max_batch_tokens, opt.max_queue, c.metrics);

  httplib::Server svr;
  int threads = std::max(2, opt.threads);
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(size_t(threads)); };
  svr.set_read_timeout(opt.read_timeout_s, 0);
  svr.set_write_timeout(opt.read_timeout_s, 0);
  svr.set_keep_alive_timeout(opt.keep_alive_timeout_s);
  svr.set_keep_alive_max_count(1000);
  svr.set_payload_max_length(opt.max_payload_bytes);

  const std::set<std::string> routes = {"/classify", "/pooling", "/score", "/v1/score", "/rerank", "/v1/rerank", "/v2/rerank",
                                        "/v1/embeddings", "/tokenize", "/detokenize", "/v1/models", "/health", "/version", "/metrics",
                                        "/ping"};

  svr.set_pre_routing_handler([&](const httplib::Request& req, httplib::Response& res) {
    t_request_start = Clock::now();
    if (!opt.api_key.empty() && req.path != "/health" && req.path != "/metrics" && req.path != "/ping" &&
        req.method != "OPTIONS") {
      if (req.get_header_value("Authorization") != "Bearer " + opt.api_key) {
        res.status = 401;
        res.set_content(R"({"error":"Unauthorized"})", "application/json");
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  svr.set_error_handler([&](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 404) set_error(res, 404, fmt::format("Not Found: {} {}", req.method, req.path));
    else if (res.status == 413)
      set_error(res, 413, fmt::format("the request body is larger than the limit of {} bytes (--max-payload-bytes)", opt.max_payload_bytes));
    else set_error(res, res.status, fmt::format("HTTP error {}", res.status));
  });

  svr.set_exception_handler([&](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      set_error(res, 500, e.what());
    } catch (...) {
      set_error(res, 500, "unknown error");
    }
  });

  svr.set_logger([&](const httplib::Request& req, const httplib::Response& res) {
    double latency = t_request_start == Clock::time_point{} ? 0.0 : std::chrono::duration<double>(Clock::now() - t_request_start).count();
    t_request_start = Clock::time_point{};
    std::string route = routes.count(req.path) ? req.path : "other";
    c.metrics.observe_request(route, res.status, latency);
    if (opt.access_log) {
      json line{{"time", iso_now()}, {"method", req.method}, {"path", req.path}, {"status", res.status},
                {"latency_ms", std::round(latency * 1e5) / 100}, {"request_id", res.get_header_value("X-Request-Id")},
                {"remote", req.remote_addr}};
      std::string s = dump(line) + "\n";
      std::fwrite(s.data(), 1, s.size(), stderr);
    }
  });

  auto post = [&](const char* path, Handler h) {
    svr.Post(path, [&c, h](const httplib::Request& req, httplib::Response& res) {
      std::string rid = req.get_header_value("X-Request-Id");
      try {
        json body;
        try {
          body = json::parse(req.body);
        } catch (const json::parse_error& e) {
          throw bad_request(fmt::format("JSON decode error: {}", e.what()));
        }
        if (!body.is_object()) throw bad_request(fmt::format("the request body must be a JSON object, got {}", json_type(body)));
        if (rid.empty()) {
          if (auto r = get_string(body, "request_id")) rid = *r;
          else rid = random_uuid();
        }
        json out = h(c, body, req, rid);
        res.status = 200;
        res.set_content(dump(out), "application/json");
      } catch (const ApiError& e) {
        set_error(res, e.status, e.what(), e.param, e.type);
      } catch (const ClientGone&) {
        res.status = 499;  // nginx's "client closed request"; nobody reads it
        res.set_content("", "text/plain");
      } catch (const std::invalid_argument& e) {
        set_error(res, 400, e.what());
      } catch (const std::exception& e) {
        set_error(res, 500, e.what());
      }
      if (!rid.empty()) res.set_header("X-Request-Id", rid);
    });
  };
  post("/classify", handle_classify);
  post("/pooling", handle_pooling);
  for (const char* p : {"/score", "/v1/score"}) post(p, handle_score);
  for (const char* p : {"/rerank", "/v1/rerank", "/v2/rerank"}) post(p, handle_rerank);
  post("/v1/embeddings", handle_embeddings);
  post("/tokenize", handle_tokenize);
  post("/detokenize", handle_detokenize);

  auto health = [&](const httplib::Request&, httplib::Response& res) {
    if (c.scheduler->device_lost()) set_error(res, 503, "the Vulkan device was lost; restart the server");
    else res.status = 200;
  };
  svr.Get("/health", health);
  svr.Get("/ping", health);
  svr.Get("/version", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(dump(json{{"version", opt.version}}), "application/json");
  });
  svr.Get("/v1/models", [&](const httplib::Request&, httplib::Response& res) {
    json model{{"id", c.model_name}, {"object", "model"}, {"created", c.created}, {"owned_by", "vkcls"}, {"root", opt.model_dir},
               {"parent", nullptr}, {"max_model_len", c.info.max_model_len}, {"permission", json::array()}};
    res.set_content(dump(json{{"object", "list"}, {"data", json::array({model})}}), "application/json");
  });
  svr.Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(c.metrics.render(c.scheduler->queue_depth(), !c.scheduler->device_lost()), "text/plain; version=0.0.4");
  });

  int port = opt.port;
  if (port == 0) {
    port = svr.bind_to_any_port(opt.host);
    if (port < 0) throw std::runtime_error(fmt::format("cannot bind {} on any port", opt.host));
  } else if (!svr.bind_to_port(opt.host, port)) {
    throw std::runtime_error(fmt::format("cannot bind {}:{} (in use, or not an address of this machine)", opt.host, port));
  }

  // the stop thread: SIGTERM / SIGINT -> stop accepting, let in-flight requests finish
  std::atomic<bool> finished{false}, signalled{false};
  std::thread stopper([&] {
    sigset_t s = stop_signals();
    int sig = 0;
    sigwait(&s, &sig);
    signalled = true;
    if (finished) return;
    std::fprintf(stderr, "vkcls serve: %s: draining in-flight requests\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    while (!svr.is_running() && !finished) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    svr.stop();
  });

  std::fprintf(stderr, "vkcls serve: model '%s' (%s, %s) on %s; tasks %s\n", c.model_name.c_str(), c.info.architecture.c_str(),
               c.info.dtype.c_str(), c.info.device.c_str(), fmt::format("{}", fmt::join(c.info.tasks, ", ")).c_str());
  std::fprintf(stderr, "listening on %s:%d\n", opt.host.c_str(), port);
  std::fflush(stderr);
  bool ok = svr.listen_after_bind();
  finished = true;
  c.scheduler->stop();
  if (!signalled) {
    pthread_kill(stopper.native_handle(), SIGTERM);  // wakes sigwait when the server stopped for another reason
  }
  stopper.join();
  std::fprintf(stderr, "vkcls serve: stopped\n");
  return ok ? 0 : 1;
}

}  // namespace vkcls::server
