// What the two halves of the C API share: the objects behind the opaque handles, the
// thread-local last error, and `guarded`, the one place C++ exceptions become statuses.
#pragma once
#include <fmt/format.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "vkcls/engine.h"
#include "vkcls/vkcls.h"

struct vkcls_engine {
  std::unique_ptr<vkcls::Engine> engine;
  // vkcls_model_info points into these
  vkcls_model_info info{};
  std::vector<const char*> labels, tasks;
};

struct vkcls_cancel_token {
  std::mutex m;
  bool cancelled = false;
  std::vector<std::shared_ptr<vkcls::Ticket>> active;  // calls in flight with this token
};

namespace vkcls::capi {

vkcls_status status_of(ErrorKind kind);

// The C API's own misuse (NULL pointer, bad struct_size): thrown inside guarded().
struct ArgumentError {
  std::string message, param;
};

// Records the outcome of a call for vkcls_last_error(): "" on success.
void clear_error();
vkcls_status fail(vkcls_status status, const std::string& message, const std::string& param = "");

// Inside a catch block: the current exception as a status, recorded for vkcls_last_error().
vkcls_status status_from_exception() noexcept;

// Runs body() (which returns a status) with the last error cleared; no exception escapes.
template <class F>
vkcls_status guarded(F&& body) noexcept {
  try {
    clear_error();
    return body();
  } catch (...) {
    return status_from_exception();
  }
}

inline void require(bool ok, const char* what, const char* param) {
  if (!ok) throw ArgumentError{what, param};
}

// A struct the caller sized with struct_size: fields within it are the caller's, the rest keep
// `defaults`. Larger than ours: the caller's vkcls.h is newer than this library.
template <class T>
T read_sized(const T* given, T defaults, const char* type) {
  if (given->struct_size < sizeof(size_t) || given->struct_size > sizeof(T))
    throw ArgumentError{fmt::format("{}.struct_size is {}; this library takes {} to {} (fill it "
                                    "with {}_init, from a vkcls.h no newer than the library)",
                                    type, given->struct_size, sizeof(size_t), sizeof(T), type),
                        "struct_size"};
  std::memcpy(static_cast<void*>(&defaults), given, given->struct_size);
  return defaults;
}

}  // namespace vkcls::capi
