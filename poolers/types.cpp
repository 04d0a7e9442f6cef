// Names of the enums in vkcls/types.h.
#include "vkcls/types.h"

namespace vkcls {

const char* error_kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::none:
      return "none";
    case ErrorKind::invalid_input:
      return "invalid_input";
    case ErrorKind::too_long:
      return "too_long";
    case ErrorKind::unsupported:
      return "unsupported";
    case ErrorKind::not_found:
      return "not_found";
    case ErrorKind::model:
      return "model";
    case ErrorKind::overloaded:
      return "overloaded";
    case ErrorKind::cancelled:
      return "cancelled";
    case ErrorKind::device_lost:
      return "device_lost";
    case ErrorKind::out_of_memory:
      return "out_of_memory";
    case ErrorKind::internal:
      return "internal";
  }
  return "?";
}

const char* task_name(Task task) {
  switch (task) {
    case Task::classify:
      return "classify";
    case Task::token_classify:
      return "token_classify";
    case Task::score:
      return "score";
    case Task::embed:
      return "embed";
  }
  return "?";
}

std::optional<Task> task_from_name(const std::string& name) {
  for (Task t : {Task::classify, Task::token_classify, Task::score, Task::embed})
    if (name == task_name(t)) return t;
  return std::nullopt;
}

}  // namespace vkcls
